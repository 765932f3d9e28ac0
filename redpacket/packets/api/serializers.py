"""Shapes of the red packet API (API.md "Red packets"). Shape only: no rules here."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from redpacket.accounts.api.serializers import UserSerializer
from redpacket.kernel.fields import FenField, StrictIntegerField
from redpacket.packets.models import Packet
from wallet.services import BALANCE


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": [BALANCE]},
            {"type": "integer", "description": "a card id"},
        ]
    }
)
class PayWithField(serializers.Field):
    """ "balance" (零钱) or the id of one of the caller's cards."""

    default_error_messages = {"invalid": _('支付方式应为 "balance" 或银行卡 id')}

    def to_internal_value(self, data):
        if data == BALANCE:
            return BALANCE
        if isinstance(data, bool) or not isinstance(data, int) or data < 1:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class PacketSendInput(serializers.Serializer):
    room_id = StrictIntegerField()
    kind = serializers.ChoiceField(choices=Packet.Kind.choices)
    count = StrictIntegerField()
    total_fen = FenField(required=False, allow_null=True)
    share_fen = FenField(required=False, allow_null=True)
    to_user_id = StrictIntegerField(
        required=False, allow_null=True, help_text="exclusive: the member it is for"
    )
    # No max_length: the rule gives its own message for any greeting over the limit.
    greeting = serializers.CharField(required=False, allow_blank=True, default="")
    pay_with = PayWithField(required=False, default=BALANCE)
    pin = serializers.CharField(required=False, allow_blank=True, max_length=6, default=None)


class PacketSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    room_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Packet.Kind.choices)
    sender = UserSerializer()
    greeting = serializers.CharField()
    count = serializers.IntegerField()
    total_fen = serializers.IntegerField(required=False, help_text="present only for the sender")
    share_fen = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Packet.Status.choices)
    to_user = UserSerializer(allow_null=True, help_text="exclusive: the member it is for")


class PacketViewSerializer(PacketSerializer):
    view = serializers.ChoiceField(
        choices=["open", "opened", "finished", "expired", "waiting", "exclusive"]
    )
    my_amount_fen = serializers.IntegerField(allow_null=True)


class OpenOutput(serializers.Serializer):
    amount_fen = serializers.IntegerField()
    repeat = serializers.BooleanField()


class ClaimSerializer(serializers.Serializer):
    user = UserSerializer()
    amount_fen = serializers.IntegerField()
    opened_at = serializers.DateTimeField()
    best_luck = serializers.BooleanField()


class ResultSerializer(serializers.Serializer):
    packet = PacketSerializer()
    my_amount_fen = serializers.IntegerField(allow_null=True)
    summary = serializers.CharField()
    buttons = serializers.ListField(
        child=serializers.ChoiceField(choices=["continue_sending", "my_records"])
    )
    claims = ClaimSerializer(many=True)
    claimed_count = serializers.IntegerField()
    claimed_fen = serializers.IntegerField(required=False, help_text="present only for the sender")
    finished_in_seconds = serializers.IntegerField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())
    credited = serializers.BooleanField(
        allow_null=True, help_text="whether the caller's share is credited yet (null: no share)"
    )
    credit_line = serializers.CharField(
        allow_null=True, help_text='"已存入零钱，可用于…" once credited, "入账中…" before'
    )


class ForwardInput(serializers.Serializer):
    room_id = StrictIntegerField()


class YearQuery(serializers.Serializer):
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)


class ReceivedRow(serializers.Serializer):
    """A share of a packet (`source` "packet") or a shake win (`source` "shake": `sender`
    is the campaign's sponsor, `kind` "shake", `packet_id` null, `win_id` set)."""

    # API.md's field name; DRF's metaclass takes it off the class (no clash with Field.source).
    source = serializers.ChoiceField(choices=["packet", "shake"])  # type: ignore[assignment]
    packet_id = serializers.IntegerField(allow_null=True)
    win_id = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField()
    sender = UserSerializer()
    greeting = serializers.CharField()
    amount_fen = serializers.IntegerField()
    opened_at = serializers.DateTimeField()
    best_luck = serializers.BooleanField()
    result_url = serializers.CharField(help_text="the page of this share or win's result")


class ReceivedSerializer(serializers.Serializer):
    total_fen = serializers.IntegerField()
    count = serializers.IntegerField()
    best_luck_count = serializers.IntegerField()
    results = ReceivedRow(many=True)
    next = serializers.URLField(allow_null=True)


class SentRow(serializers.Serializer):
    packet_id = serializers.IntegerField()
    kind = serializers.CharField()
    count = serializers.IntegerField()
    total_fen = serializers.IntegerField()
    claimed_count = serializers.IntegerField()
    status = serializers.CharField()
    state = serializers.CharField()
    created_at = serializers.DateTimeField()


class SentSerializer(serializers.Serializer):
    total_fen = serializers.IntegerField()
    count = serializers.IntegerField()
    results = SentRow(many=True)
    next = serializers.URLField(allow_null=True)
