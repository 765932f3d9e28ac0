"""Shake campaigns (摇一摇), their tier tables and wins. Rules live in shake/services and
shake/rules.py; the database refuses what must never be stored — above all a campaign
that pays more than its budget or more packets than its count (SPEC §8 #4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    """A sponsor's budget, paid into campaign escrow when the campaign is created, handed
    out as `count` packets to people who shake between `starts_at` and `ends_at`.

    `spent_fen` / `won_count` count up under the campaign's row lock as wins are
    recorded; when the campaign ends the unspent rest returns to the sponsor once
    (`refunded_fen`). budget = spent + refunded once ended; before that, the unspent
    budget always covers the minimum share of every packet still to win.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("未开始")
        RUNNING = "running", _("进行中")
        ENDED = "ended", _("已结束")

    class EndReason(models.TextChoices):
        TIME = "time", _("到期结束")
        SOLD_OUT = "sold_out", _("已摇完")
        OPERATOR = "operator", _("运营结束")

    sponsor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sponsored_campaigns",
        verbose_name=_("赞助方"),
    )
    name = models.CharField(_("活动名称"), max_length=40)
    greeting = models.CharField(_("祝福语"), max_length=25, blank=True)
    budget_fen = models.BigIntegerField(_("预算（分）"))
    count = models.PositiveIntegerField(_("红包个数"))
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    min_share_fen = models.BigIntegerField(_("最小红包（分）"), default=200)
    per_user_cap = models.PositiveIntegerField(_("每人最多中奖次数"), default=1)
    win_chance_ppm = models.PositiveIntegerField(
        _("中奖概率（百万分之）"), default=1_000_000, help_text=_("1000000 = 100%")
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    end_reason = models.CharField(
        _("结束原因"), max_length=10, choices=EndReason.choices, blank=True, default=""
    )
    spent_fen = models.BigIntegerField(_("已发放（分）"), default=0)
    won_count = models.PositiveIntegerField(_("已摇中个数"), default=0)
    refunded_fen = models.BigIntegerField(_("已退款（分）"), default=0)
    # The request that created it (Idempotency-Key): one campaign per creator and key.
    request_key = models.CharField(max_length=64)
    fund_reference = models.CharField(max_length=160, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="created_campaigns",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    ended_at = models.DateTimeField(_("结束于"), null=True, blank=True)

    class Meta:
        verbose_name = _("摇一摇活动")
        verbose_name_plural = _("摇一摇活动")
        permissions = [
            ("start_campaign", _("可以立即开始活动")),
            ("end_campaign", _("可以立即结束活动并退款")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "request_key"], name="campaign_once_per_request"
            ),
            models.CheckConstraint(
                condition=Q(count__gte=1, min_share_fen__gte=1, per_user_cap__gte=1),
                name="campaign_positive_terms",
            ),
            models.CheckConstraint(
                condition=Q(budget_fen__gte=F("count") * F("min_share_fen")),
                name="campaign_budget_covers_count",
            ),
            models.CheckConstraint(
                condition=Q(win_chance_ppm__gte=1, win_chance_ppm__lte=1_000_000),
                name="campaign_win_chance_range",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="campaign_ends_after_start"
            ),
            # SPEC §8 #4: never more than the budget, never more packets than the count.
            models.CheckConstraint(
                condition=Q(spent_fen__gte=0, spent_fen__lte=F("budget_fen")),
                name="campaign_spent_within_budget",
            ),
            models.CheckConstraint(
                condition=Q(won_count__gte=0, won_count__lte=F("count")),
                name="campaign_won_within_count",
            ),
            # Every packet still to win can pay the minimum share (until it ends).
            models.CheckConstraint(
                condition=Q(status="ended")
                | Q(
                    spent_fen__lte=F("budget_fen")
                    - (F("count") - F("won_count")) * F("min_share_fen")
                ),
                name="campaign_keeps_min_shares",
            ),
            # The unspent rest is refunded exactly when it ends, and only then.
            models.CheckConstraint(
                condition=Q(status="ended", refunded_fen=F("budget_fen") - F("spent_fen"))
                | (~Q(status="ended") & Q(refunded_fen=0)),
                name="campaign_refund_on_end",
            ),
        ]
        indexes = [
            # The minute sweep: campaigns not yet ended, by end time.
            models.Index(
                fields=["ends_at"], name="campaign_open_by_end", condition=~Q(status="ended")
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"

    @property
    def unspent_fen(self) -> int:
        """Budget neither paid out nor refunded (still in escrow for future wins)."""
        return self.budget_fen - self.spent_fen - self.refunded_fen


class Tier(models.Model):
    """One row of a campaign's tier table: the chance (ppm) and the amount range in fen
    (a fixed amount when min = max). A campaign's tiers sum to 1,000,000 ppm."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tiers")
    probability_ppm = models.PositiveIntegerField(
        _("概率（百万分之）"), help_text=_("1000000 = 100%")
    )
    min_fen = models.BigIntegerField(_("最低金额（分）"))
    max_fen = models.BigIntegerField(_("最高金额（分）"))

    class Meta:
        verbose_name = _("金额档位")
        verbose_name_plural = _("金额档位")
        ordering = ["campaign", "-min_fen", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability_ppm__gte=1, probability_ppm__lte=1_000_000),
                name="tier_probability_range",
            ),
            models.CheckConstraint(
                condition=Q(min_fen__gte=1, max_fen__gte=F("min_fen")),
                name="tier_amount_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.probability_ppm}ppm {self.min_fen}–{self.max_fen}"


class Win(models.Model):
    """One packet won by one shake. Credited to the winner's change asynchronously,
    exactly once (ledger reference "win:<id>")."""

    class CreditStatus(models.TextChoices):
        PENDING = "pending", _("待入账")
        CREDITED = "credited", _("已入账")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="wins")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shake_wins"
    )
    # The n-th packet of the campaign (0-based): unique, so never more than `count` wins.
    index = models.PositiveIntegerField()
    amount_fen = models.BigIntegerField()
    tier = models.ForeignKey(
        Tier, on_delete=models.SET_NULL, null=True, blank=True, related_name="wins"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    credit_status = models.CharField(
        max_length=10, choices=CreditStatus.choices, default=CreditStatus.PENDING
    )
    credited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("摇中记录")
        verbose_name_plural = _("摇中记录")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "index"], name="win_one_per_index"),
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="win_amount_positive"),
            models.CheckConstraint(
                condition=Q(credit_status="pending", credited_at__isnull=True)
                | Q(credit_status="credited", credited_at__isnull=False),
                name="win_credited_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "user"], name="win_campaign_user"),
            models.Index(
                fields=["created_at"],
                name="win_pending_credit",
                condition=Q(credit_status="pending"),
            ),
            models.Index(fields=["user", "-created_at"], name="win_user_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.campaign_id}[{self.index}] {self.user_id}: {self.amount_fen}"


class SponsorAccount(models.Model):
    """An account that operators marked as a sponsor: a campaign may be paid from its
    change by an operator other than its owner (SPEC §1). No other user's change ever
    funds a campaign they did not create themselves."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sponsor_account",
        verbose_name=_("赞助方账户"),
    )
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("标记人"),
    )
    created_at = models.DateTimeField(_("标记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("赞助方账户")
        verbose_name_plural = _("赞助方账户")

    def __str__(self) -> str:
        return str(self.user)
