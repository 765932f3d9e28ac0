"""Serializer fields for money: integer fen only — never a float, a string or a bool."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class FenField(serializers.IntegerField):
    """An amount in fen. JSON integers only: 12.5, "1250" and true are refused."""

    default_error_messages = {
        "invalid": _("金额必须是以分为单位的整数"),
        "min_value": _("金额不能小于 {min_value} 分"),
        "max_value": _("金额不能超过 {max_value} 分"),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An id or a count: JSON integers only."""

    default_error_messages = {"invalid": _("必须是整数")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
