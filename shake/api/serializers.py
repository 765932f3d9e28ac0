"""Shapes of the shake API (API.md "Shake"). Shape only: the rules are in shake/rules.py."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from redpacket.accounts.api.serializers import UserSerializer
from redpacket.kernel.fields import FenField, StrictIntegerField
from shake.models import Campaign
from shake.services import Reason


class TierInput(serializers.Serializer):
    probability_ppm = StrictIntegerField(help_text=_("百万分之一为单位；各档之和为1000000"))
    min_fen = FenField()
    max_fen = FenField()


class CampaignCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    greeting = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    budget_fen = FenField()
    count = StrictIntegerField()
    ends_at = serializers.DateTimeField()
    starts_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    min_share_fen = FenField(required=False, default=200)
    per_user_cap = StrictIntegerField(required=False, default=1)
    win_chance_ppm = StrictIntegerField(required=False, default=1_000_000)
    sponsor_id = StrictIntegerField(required=False, allow_null=True, default=None)
    tiers = TierInput(many=True, required=False, allow_null=True, default=None)


class CampaignSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    sponsor = UserSerializer()
    greeting = serializers.CharField()
    budget_fen = serializers.IntegerField()
    count = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)


class CampaignPageSerializer(serializers.Serializer):
    results = CampaignSerializer(many=True)
    next = serializers.URLField(allow_null=True)


class ShakeOutput(serializers.Serializer):
    """`{"won": true, "amount_fen", "win_id", "sponsor", "greeting"}` or
    `{"won": false, "reason"}`."""

    won = serializers.BooleanField()
    amount_fen = serializers.IntegerField(required=False, help_text="present when won")
    win_id = serializers.IntegerField(required=False, help_text="present when won")
    sponsor = UserSerializer(required=False, help_text="present when won")
    greeting = serializers.CharField(required=False, help_text="present when won")
    reason = serializers.ChoiceField(
        choices=[(reason.value, reason.value) for reason in Reason],
        required=False,
        help_text="present when not won",
    )


class RemainingOutput(serializers.Serializer):
    remaining = serializers.IntegerField()
    as_of = serializers.DateTimeField()


class WinOutput(serializers.Serializer):
    """A won packet as its result page shows it (`GET /api/shake/wins/<id>`)."""

    win_id = serializers.IntegerField()
    amount_fen = serializers.IntegerField()
    sponsor = UserSerializer(source="sender")
    greeting = serializers.CharField()
    campaign_name = serializers.CharField()
    created_at = serializers.DateTimeField(source="opened_at")
    credited = serializers.BooleanField()
    credit_line = serializers.CharField(help_text="入账中… until credited, then 已存入零钱…")
