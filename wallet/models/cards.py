"""Bank cards bound to a wallet, their bindings in progress, and the payment PIN."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class PaymentPin(models.Model):
    """The 6-digit payment PIN (an HMAC under a server-side pepper, wallet/pin_hash.py) and
    its lockout counter."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_pin"
    )
    pin_hash = models.CharField(max_length=256)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "支付密码"
        verbose_name_plural = "支付密码"
        permissions = [("unlock_pin", "可以解除支付密码锁定")]

    def __str__(self) -> str:
        return f"PIN of {self.user_id}"


class BankCard(models.Model):
    """A bound card. Only bank, type and last four digits are kept in the clear; the
    gateway's token stands for the number."""

    class CardType(models.TextChoices):
        DEBIT = "debit", "储蓄卡"
        CREDIT = "credit", "信用卡"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bank_cards"
    )
    bank = models.CharField(max_length=40)
    card_type = models.CharField(max_length=10, choices=CardType.choices)
    last4 = models.CharField(max_length=4)
    gateway_token = models.CharField(max_length=64, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "银行卡"
        verbose_name_plural = "银行卡"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.bank}{self.get_card_type_display()}({self.last4})"


class CardBinding(models.Model):
    """A card waiting for its SMS code. Becomes a BankCard when the code is right."""

    class Status(models.TextChoices):
        PENDING = "pending", "待验证"
        VERIFIED = "verified", "已绑定"
        VOID = "void", "已作废"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="card_bindings"
    )
    bank = models.CharField(max_length=40)
    card_type = models.CharField(max_length=10, choices=BankCard.CardType.choices)
    last4 = models.CharField(max_length=4)
    phone_last4 = models.CharField(max_length=4)
    gateway_token = models.CharField(max_length=64)
    pending_pin_hash = models.CharField(max_length=256, blank=True)
    code_hash = models.CharField(max_length=256)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    card = models.OneToOneField(BankCard, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "绑卡申请"
        verbose_name_plural = "绑卡申请"

    def __str__(self) -> str:
        return f"{self.bank} {self.last4} ({self.status})"
