from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from rest_framework import serializers

from redpacket.accounts.models import User
from redpacket.accounts.selectors import user_data

if TYPE_CHECKING:
    from django.db.models import Field
    from django_stubs_ext import StrOrPromise


def _label(field: str) -> StrOrPromise:
    return cast("Field[Any, Any]", User._meta.get_field(field)).verbose_name  # a column


# Fields spelled out rather than a ModelSerializer's: this is nested in every message,
# claim and event, and a ModelSerializer builds its fields from the model anew on each
# use (several times the cost of the shaping itself).
class UserSerializer(serializers.Serializer):
    """A user as every API response shows one."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True, label=_label("username"))
    display_name = serializers.CharField(read_only=True, label=_label("display_name"))
    avatar_colour = serializers.CharField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, Mapping):  # already shaped by `user_data` (a cached fact)
            return dict(super().to_representation(instance))
        return user_data(instance)


class RegisterInput(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150, min_length=2)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    display_name = serializers.CharField(max_length=32, required=False, allow_blank=True)


class RegisterOutput(UserSerializer):
    token = serializers.CharField(read_only=True)

    def to_representation(self, instance: User) -> dict[str, Any]:
        # `token`: set on the new user by RegisterApi for this answer only (no such field).
        return {**user_data(instance), "token": str(instance.token)}  # type: ignore[attr-defined]


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(help_text="The token stops working at this time.")


class WsTicketOutput(serializers.Serializer):
    ticket = serializers.CharField(help_text="Use once, as `?ticket=` on the websocket URL.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid.")
