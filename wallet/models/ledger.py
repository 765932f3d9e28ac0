"""The double-entry ledger: accounts (wallets and system accounts), transactions and
their entries. The database refuses the worst mistakes (CHECKs here, triggers in the
migrations)."""

from __future__ import annotations

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
        USER = "user", _("用户零钱")
        PACKET_ESCROW = "packet_escrow", _("红包托管")
        CAMPAIGN_ESCROW = "campaign_escrow", _("活动托管")
        BANK_CLEARING = "bank_clearing", _("银行清算")

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
        TOPUP = "topup", _("充值")
        WITHDRAW = "withdraw", _("提现")
        WITHDRAW_REVERSAL = "withdraw_reversal", _("提现退回")
        TRANSFER = "transfer", _("转账")
        PACKET_FUND = "packet_fund", _("发红包")
        CLAIM_CREDIT = "claim_credit", _("红包入账")
        PACKET_REFUND = "packet_refund", _("红包退款")
        CAMPAIGN_FUND = "campaign_fund", _("活动预算")
        WIN_CREDIT = "win_credit", _("摇一摇入账")
        CAMPAIGN_REFUND = "campaign_refund", _("活动退款")
        # A card payment that failed after the bank took the money: back into change,
        # then out to the card (or kept in change if the bank refuses the refund).
        CHARGE_RETURN = "charge_return", _("支付失败退回")
        CARD_REFUND = "card_refund", _("退回银行卡")
        CARD_REFUND_REVERSAL = "card_refund_reversal", _("退回银行卡失败")

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
        db_index=False,  # indexed where set (Meta): most movements have none
    )
    # Who made it happen when a person did (an operator's admin action); None for the
    # system's own movements (crediting, expiry sweeps) and for users' own payments.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # indexed where set (Meta): most movements have none
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "账务交易"
        verbose_name_plural = "账务交易"
        # Only the rows that name one: the lookups (an operation's movements, the
        # foreign keys' checks) ask for a value, and crediting writes no index entry.
        indexes = [
            models.Index(
                fields=["bank_operation"],
                name="ledger_bank_operation",
                condition=Q(bank_operation__isnull=False),
            ),
            models.Index(fields=["actor"], name="ledger_actor", condition=Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class Entry(models.Model):
    """One leg of a transaction: a signed amount on one account (positive = money in).
    The legs of a transaction sum to zero (a deferred trigger checks it on PostgreSQL)."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    # No index of its own: (account, −id) leads with it.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
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
