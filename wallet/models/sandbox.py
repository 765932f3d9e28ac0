"""The sandbox bank and SMS backend (PAYMENTS_SANDBOX).

In production these are another company's systems; the sandbox keeps their records here
so reconciliation can compare our ledger with "the bank's" statement."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SandboxCard(models.Model):
    """The sandbox bank's view of a card it issued a token for."""

    class Behaviour(models.TextChoices):
        OK = "ok", "正常"
        DECLINED = "declined", "拒绝"
        INSUFFICIENT_FUNDS = "insufficient_funds", "余额不足"

    token = models.CharField(max_length=64, unique=True)
    behaviour = models.CharField(max_length=20, choices=Behaviour.choices)
    last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "沙箱银行卡"
        verbose_name_plural = "沙箱银行卡"

    def __str__(self) -> str:
        return f"****{self.last4} ({self.behaviour})"


class SandboxStatementLine(models.Model):
    """One operation as the sandbox bank records it: every bind, debit and credit."""

    class Operation(models.TextChoices):
        BIND = "bind", "绑卡"
        DEBIT = "debit", "扣款"
        CREDIT = "credit", "入账"

    class Outcome(models.TextChoices):
        OK = "ok", "成功"
        DECLINED = "declined", "拒绝"
        INSUFFICIENT_FUNDS = "insufficient_funds", "余额不足"

    operation = models.CharField(max_length=10, choices=Operation.choices)
    token = models.CharField(max_length=64)
    amount_fen = models.BigIntegerField(default=0)
    reference = models.CharField(max_length=160)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "沙箱银行流水"
        verbose_name_plural = "沙箱银行流水"
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "reference"], name="sandbox_statement_once_per_reference"
            ),
            models.CheckConstraint(condition=Q(amount_fen__gte=0), name="sandbox_amount_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.amount_fen} {self.reference} {self.outcome}"


class SmsMessage(models.Model):
    """The sandbox SMS backend's outbox."""

    phone = models.CharField(max_length=20)
    text = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "短信（沙箱）"
        verbose_name_plural = "短信（沙箱）"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.phone}: {self.text}"
