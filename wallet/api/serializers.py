from django.conf import settings
from rest_framework import serializers

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
