from typing import Any

from django.conf import settings
from django.utils.formats import date_format
from django.utils.timezone import localtime
from rest_framework import serializers

from redpacket.accounts.api.serializers import UserSerializer
from redpacket.kernel.fields import FenField, StrictIntegerField
from wallet.models import BankCard, Entry


class CardSerializer(serializers.ModelSerializer):
    class Meta:
        model = BankCard
        fields = ["id", "bank", "last4", "card_type"]
        read_only_fields = fields


class WalletSerializer(serializers.Serializer):
    balance_fen = serializers.IntegerField()
    has_pin = serializers.BooleanField()
    pin_locked_until = serializers.DateTimeField(allow_null=True)
    cards = CardSerializer(many=True)


class BalanceSerializer(serializers.Serializer):
    balance_fen = serializers.IntegerField()


class EntrySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="transaction.kind")
    reference = serializers.CharField(source="transaction.reference")

    class Meta:
        model = Entry
        fields = ["id", "kind", "amount_fen", "balance_after_fen", "created_at", "reference"]
        read_only_fields = fields


class MoneyNoticeSerializer(serializers.Serializer):
    """One 服务通知 (`wallet.selectors.Notice`): a wallet ledger entry that raised one."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    amount_fen = serializers.IntegerField()
    balance_after_fen = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    url = serializers.CharField()
    packet_id = serializers.IntegerField(allow_null=True)
    win_id = serializers.IntegerField(allow_null=True)
    sender = UserSerializer(allow_null=True)
    time_label = serializers.SerializerMethodField(
        help_text="created_at as the pages show it, in the site's time zone"
    )

    def get_time_label(self, notice: Any) -> str:
        return date_format(localtime(notice.created_at), "Y-m-d H:i")


class NoticesQuery(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False, default=0)


class NoticesOutput(serializers.Serializer):
    results = MoneyNoticeSerializer(many=True)
    unseen = serializers.IntegerField()
    last_id = serializers.IntegerField()


class NoticesSeenInput(serializers.Serializer):
    up_to = StrictIntegerField(min_value=1, max_value=2**63 - 1)


def _amount() -> FenField:
    return FenField(min_value=1, max_value=settings.WALLET_MAX_AMOUNT_FEN)


def _pin() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=6, default=None)


class CardBindInput(serializers.Serializer):
    card_number = serializers.CharField(max_length=32)
    holder_name = serializers.CharField(max_length=40)
    phone = serializers.CharField(max_length=20)
    pin = _pin()


class CardBindOutput(serializers.Serializer):
    binding_id = serializers.UUIDField()
    status = serializers.CharField()
    sandbox_sms_code = serializers.CharField(required=False)


class CardVerifyInput(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class TopupInput(serializers.Serializer):
    card_id = StrictIntegerField()
    amount_fen = _amount()
    pin = _pin()


class WithdrawInput(TopupInput):
    pass


class TransferInput(serializers.Serializer):
    to_user_id = StrictIntegerField()
    amount_fen = _amount()
    pin = _pin()
    note = serializers.CharField(required=False, allow_blank=True, max_length=60)
