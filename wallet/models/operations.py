"""Idempotency records of requests that move money, and every call to the bank."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from wallet.models.cards import BankCard


class IdempotencyRecord(models.Model):
    """The first response to a money-moving request, replayed for the same key and body.

    A key belongs to one user and one endpoint (`scope`). Neither the key nor the request
    is stored in the clear: both are HMACs under a server key, and the request's digest
    leaves out its secrets (PIN, SMS code), so nothing here helps an offline search."""

    class State(models.TextChoices):
        PROCESSING = "processing", "处理中"
        DONE = "done", "已完成"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    scope = models.CharField(max_length=60)
    key_digest = models.CharField(max_length=64)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PROCESSING)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "幂等记录"
        verbose_name_plural = "幂等记录"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "key_digest"], name="idempotency_one_per_user_scope_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} #{self.pk}"


class BankOperation(models.Model):
    """One call to the bank gateway, recorded before it is made.

    Its id makes the one reference that the bank and our ledger both see
    (`reference`, e.g. "topup:17"), so a client's key never reaches a reference. A
    retried request may ask the bank again under the same operation (the bank replays its
    answer) while the operation is unsettled; a settled operation is never reused, so a
    refunded or declined charge can never fund anything.
    """

    class Purpose(models.TextChoices):
        TOPUP = "topup", "充值"
        WITHDRAW = "withdraw", "提现"
        CHARGE = "charge", "银行卡支付"
        REFUND = "refund", "退回银行卡"

    class State(models.TextChoices):
        PENDING = "pending", "处理中"
        OK = "ok", "成功"
        DECLINED = "declined", "拒绝"
        INSUFFICIENT_FUNDS = "insufficient_funds", "余额不足"
        # A charge whose payment failed after the bank took the money: it went back
        # (through the user's change) to the card by a refund operation of its own.
        RETURNED = "returned", "已退回"

    DEBITS = (Purpose.TOPUP, Purpose.CHARGE)  # the bank takes money from the card

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bank_operations"
    )
    card = models.ForeignKey(BankCard, on_delete=models.PROTECT, related_name="operations")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    amount_fen = models.BigIntegerField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    # The server-side id of the request that asked for it (its idempotency record), so
    # a retry of that request resumes this operation instead of starting another.
    request_key = models.CharField(max_length=64, blank=True)
    refund_of = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refund"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "银行操作"
        verbose_name_plural = "银行操作"
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="bank_operation_positive"),
        ]
        indexes = [
            models.Index(fields=["user", "purpose", "request_key"], name="bank_operation_request"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount_fen} {self.state}"

    @property
    def reference(self) -> str:
        return f"{self.purpose}:{self.pk}"

    @property
    def is_debit(self) -> bool:
        return self.purpose in self.DEBITS

    @property
    def clearing_amount_fen(self) -> int:
        """What it moves on the bank clearing account when it succeeds: a debit at the
        bank is money into our system (clearing goes down), a credit money out."""
        return -self.amount_fen if self.is_debit else self.amount_fen
