"""The wallet's data: a double-entry ledger, bank cards, payment PINs, and the sandbox
bank's and SMS backend's own records. Rules live in wallet/services/; the database
itself refuses the worst mistakes (CHECKs here, triggers in the migrations)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Account(models.Model):
    """A ledger account. Each user has one wallet (零钱); the system has one of each kind.

    Only user wallets keep a running `balance_fen`, changed under a row lock in the same
    transaction that writes their entries. System accounts (escrows, bank clearing) take
    part in nearly every movement; a running balance on them would make one hot row that
    serializes every send and every credit, so their balance is the sum of their entries
    (kept NULL here) and reconciliation checks it.
    """

    class Kind(models.TextChoices):
        USER = "user", "用户零钱"
        PACKET_ESCROW = "packet_escrow", "红包托管"
        CAMPAIGN_ESCROW = "campaign_escrow", "活动托管"
        BANK_CLEARING = "bank_clearing", "银行清算"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallet_account",
    )
    balance_fen = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "账户"
        verbose_name_plural = "账户"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="user", user__isnull=False, balance_fen__gte=0)
                    | (~Q(kind="user") & Q(user__isnull=True, balance_fen__isnull=True))
                ),
                name="account_user_wallet_nonnegative_or_system",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=~Q(kind="user"), name="account_one_per_system_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.user or ''}".strip()

    @property
    def is_user_wallet(self) -> bool:
        return self.kind == self.Kind.USER


class LedgerTransaction(models.Model):
    """One money movement. `reference` names the business event (e.g. "claim:42"), so the
    same movement can never be posted twice. Append-only."""

    class Kind(models.TextChoices):
        TOPUP = "topup", "充值"
        WITHDRAW = "withdraw", "提现"
        WITHDRAW_REVERSAL = "withdraw_reversal", "提现退回"
        TRANSFER = "transfer", "转账"
        PACKET_FUND = "packet_fund", "发红包"
        CLAIM_CREDIT = "claim_credit", "红包入账"
        PACKET_REFUND = "packet_refund", "红包退款"
        CAMPAIGN_FUND = "campaign_fund", "活动预算"
        WIN_CREDIT = "win_credit", "摇一摇入账"
        CAMPAIGN_REFUND = "campaign_refund", "活动退款"
        # A card payment that failed after the bank took the money: back into change,
        # then out to the card (or kept in change if the bank refuses the refund).
        CHARGE_RETURN = "charge_return", "支付失败退回"
        CARD_REFUND = "card_refund", "退回银行卡"
        CARD_REFUND_REVERSAL = "card_refund_reversal", "退回银行卡失败"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    reference = models.CharField(max_length=160, unique=True)
    memo = models.CharField(max_length=120, blank=True)
    # The bank operation this movement settles (SPEC §8 #6): every transaction on the
    # bank clearing account names exactly one, so the bank's statement and the clearing
    # account can be matched line by line without reading meaning into references.
    bank_operation = models.ForeignKey(
        "BankOperation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    # Who made it happen when a person did (an operator's admin action); None for the
    # system's own movements (crediting, expiry sweeps) and for users' own payments.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "账务交易"
        verbose_name_plural = "账务交易"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class Entry(models.Model):
    """One leg of a transaction: a signed amount on one account (positive = money in).
    The legs of a transaction sum to zero (a deferred trigger checks it on PostgreSQL)."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount_fen = models.BigIntegerField()
    balance_after_fen = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "分录"
        verbose_name_plural = "分录"
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="entry_amount_nonzero"),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="entry_account_recent")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.amount_fen:+d}"


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


# --- The sandbox bank and SMS backend (PAYMENTS_SANDBOX) ---------------------------------
# In production these are another company's systems; the sandbox keeps their records
# here so reconciliation can compare our ledger with "the bank's" statement.


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


class ReconciliationRun(models.Model):
    """One 对账 run over the whole ledger, every packet and claim (SPEC §7)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("进行中")
        CLEAN = "clean", _("全部一致")
        FINDINGS = "findings", _("发现差异")
        FAILED = "failed", _("运行失败")

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    packets_checked = models.PositiveIntegerField(default=0)
    findings_count = models.PositiveIntegerField(default=0)
    requeued_credits = models.PositiveIntegerField(default=0)
    summary = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("对账")
        verbose_name_plural = _("对账")
        permissions = [("run_reconciliation", _("可以立即运行对账"))]
        ordering = ["-started_at"]
        # Created by the packet app (label "redpacket") before 对账 moved to wallet; the
        # move was state-only, so the table keeps its name.
        db_table = "redpacket_reconciliationrun"

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.get_status_display()}"


class ReconciliationFinding(models.Model):
    """Something that did not add up: what kind, on which object, expected vs found."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=40)
    object = models.CharField(max_length=200)
    expected = models.CharField(max_length=200)
    actual = models.CharField(max_length=200)

    class Meta:
        verbose_name = _("对账差异")
        verbose_name_plural = _("对账差异")
        db_table = "redpacket_reconciliationfinding"

    def __str__(self) -> str:
        return f"{self.kind} {self.object}"
