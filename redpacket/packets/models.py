"""Red packets and their claims. Rules live in services/ and rules.py of this app; the
database refuses what must never be stored (CHECKs, the one-share-per-user index)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Packet(models.Model):
    """A red packet: money taken from the sender into escrow at send, split into `count`
    shares as people open it. `remaining_*` count down under the packet's row lock;
    sum(claims) + remaining_fen + refunded_fen = total_fen always (SPEC §8 #1)."""

    class Kind(models.TextChoices):
        LUCKY = "lucky", _("拼手气红包")
        NORMAL = "normal", _("普通红包")
        EXCLUSIVE = "exclusive", _("专属红包")

    class Status(models.TextChoices):
        ACTIVE = "active", _("进行中")
        FINISHED = "finished", _("已领完")
        EXPIRED = "expired", _("已过期")

    room = models.ForeignKey("chat.Room", on_delete=models.PROTECT, related_name="packets")
    # No index of its own: (sender, request_key) and (sender, −created_at) lead with it.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="sent_packets",
        db_index=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # 专属红包: the one member of the group who may open it (set iff kind = exclusive).
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exclusive_packets",
    )
    count = models.PositiveSmallIntegerField()
    total_fen = models.BigIntegerField()
    share_fen = models.BigIntegerField(null=True, blank=True)
    greeting = models.CharField(max_length=25)
    remaining_count = models.PositiveSmallIntegerField()
    remaining_fen = models.BigIntegerField()
    refunded_fen = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    # The request that sent it (Idempotency-Key): one packet per sender and key, and the
    # reference of its funding movement in the ledger and at the bank.
    request_key = models.CharField(max_length=64)
    fund_reference = models.CharField(max_length=160, unique=True)
    paid_with_card = models.ForeignKey(
        "wallet.BankCard", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("红包")
        verbose_name_plural = _("红包")
        permissions = [("expire_packet", _("可以立即过期红包并退款"))]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "request_key"], name="packet_once_per_request"
            ),
            models.CheckConstraint(
                condition=Q(count__gte=1, count__lte=100), name="packet_count_range"
            ),
            models.CheckConstraint(
                condition=Q(total_fen__gte=F("count")), name="packet_total_covers_count"
            ),
            models.CheckConstraint(
                condition=Q(kind="lucky", share_fen__isnull=True)
                | Q(
                    kind__in=["normal", "exclusive"],
                    share_fen__gte=1,
                    total_fen=F("share_fen") * F("count"),
                ),
                name="packet_share_matches_kind",
            ),
            # An exclusive packet is one share for one chosen member other than the
            # sender; no other kind names a recipient.
            models.CheckConstraint(
                condition=Q(kind="exclusive", count=1, to_user__isnull=False)
                & ~Q(to_user=F("sender"))
                | ~Q(kind="exclusive") & Q(to_user__isnull=True),
                name="packet_exclusive_to_user",
            ),
            models.CheckConstraint(
                condition=Q(remaining_count__gte=0, remaining_count__lte=F("count")),
                name="packet_remaining_count_range",
            ),
            models.CheckConstraint(
                condition=Q(remaining_fen__gte=0, refunded_fen__gte=0)
                & Q(remaining_fen__lte=F("total_fen") - F("refunded_fen")),
                name="packet_money_range",
            ),
            models.CheckConstraint(
                condition=~Q(status="finished") | Q(remaining_count=0, remaining_fen=0),
                name="packet_finished_means_empty",
            ),
        ]
        indexes = [
            # The expiry sweep: active packets by expiry time.
            models.Index(
                fields=["expires_at"], name="packet_active_expiry", condition=Q(status="active")
            ),
            models.Index(fields=["sender", "-created_at"], name="packet_sender_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.total_fen}"


class PacketShares(models.Model):
    """Every share of a packet in claim order (`allocation.packet_shares`), computed at
    send so that an open takes `amounts[count − remaining_count]` in its one statement.
    A row of its own, written once and never updated: the packet row, which every open
    updates, stays narrow (a 100-share list inline made each open's new row version and
    its page images several times larger; docs/performance.md "Round 7"). A secret of the
    server's like the allocation key itself: no API, page, log or admin view shows it,
    and 对账 recomputes it from the key. Missing only for packets older than the list
    that were already over when it came."""

    packet = models.OneToOneField(
        Packet, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    amounts = models.JSONField()

    class Meta:
        verbose_name = _("红包份额")
        verbose_name_plural = _("红包份额")

    def __str__(self) -> str:
        return f"shares of packet {self.packet_id}"


class Claim(models.Model):
    """One share of a packet, taken by one user (red_receive). Credited to the user's
    change asynchronously, exactly once (reference "claim:<id>")."""

    class CreditStatus(models.TextChoices):
        PENDING = "pending", _("待入账")
        CREDITED = "credited", _("已入账")

    # No index of their own: the unique (packet, …) and the (user, −opened_at) index
    # lead with them, and each index more is one more write per open and per credit.
    packet = models.ForeignKey(
        Packet, on_delete=models.PROTECT, related_name="claims", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="packet_claims",
        db_index=False,
    )
    index = models.PositiveSmallIntegerField()
    amount_fen = models.BigIntegerField()
    opened_at = models.DateTimeField()
    credit_status = models.CharField(
        max_length=10, choices=CreditStatus.choices, default=CreditStatus.PENDING
    )
    credited_at = models.DateTimeField(null=True, blank=True)
    # The packet's created_at, copied at the open: claims are partitioned by their
    # packet's month (PostgreSQL), so that the unique (packet, user) and (packet, index)
    # can include the partition key and keep their meaning. A composite foreign key to
    # the packet's (id, created_at) keeps it true (docs/capacity.md "Partitioning").
    packet_created_at = models.DateTimeField(editable=False)

    class Meta:
        verbose_name = _("领取记录")
        verbose_name_plural = _("领取记录")
        constraints = [
            models.UniqueConstraint(
                fields=["packet", "user", "packet_created_at"], name="claim_one_share_per_user"
            ),
            models.UniqueConstraint(
                fields=["packet", "index", "packet_created_at"], name="claim_one_per_index"
            ),
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="claim_amount_positive"),
        ]
        indexes = [
            models.Index(
                fields=["opened_at"],
                name="claim_pending_credit",
                condition=Q(credit_status="pending"),
            ),
            models.Index(fields=["user", "-opened_at"], name="claim_user_recent"),
        ]

    def __str__(self) -> str:
        return f"#{self.packet_id}[{self.index}] {self.user_id}: {self.amount_fen}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.packet_created_at is None:
            self.packet_created_at = self.packet.created_at
        super().save(*args, **kwargs)
