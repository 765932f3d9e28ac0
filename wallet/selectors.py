"""Wallet reads shared by the API, the pages, reconciliation and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from redpacket.accounts.models import User
from redpacket.accounts.selectors import user_data
from redpacket.kernel.replica import history_db
from wallet.models import (
    Account,
    BankCard,
    BankOperation,
    Entry,
    LedgerTransaction,
    NoticesSeen,
    PaymentPin,
    SandboxStatementLine,
)
from wallet.notices import TITLES, NoticeLink, notice_filter, notice_links


def balance_of(user: User) -> int:
    """The user's change in fen (0 before the wallet exists)."""
    return Account.objects.filter(user=user).values_list("balance_fen", flat=True).first() or 0


@dataclass(frozen=True)
class WalletSummary:
    balance_fen: int
    has_pin: bool
    pin_locked_until: datetime | None
    cards: list[BankCard]


def wallet_summary(*, user: User) -> WalletSummary:
    """What the 钱包 page and `GET /api/wallet` show."""
    pin = PaymentPin.objects.filter(user=user).first()
    locked_until = (
        pin.locked_until if pin and pin.locked_until and pin.locked_until > timezone.now() else None
    )
    return WalletSummary(
        balance_fen=balance_of(user),
        has_pin=pin is not None,
        pin_locked_until=locked_until,
        cards=list(BankCard.objects.filter(user=user, is_active=True)),
    )


def ledger_for(*, user: User) -> QuerySet[Entry]:
    """The user's wallet entries, newest first (positive = money in). History: the replica
    may serve it (redpacket/kernel/replica.py); a balance or a money path never reads it."""
    return (
        Entry.objects.using(history_db(user.pk))
        .filter(account__user=user)
        .select_related("transaction")
        .order_by("-id")
    )


@dataclass(frozen=True)
class Notice:
    """One 服务通知: a wallet ledger entry that raises one (`wallet.notices`)."""

    id: int
    kind: str
    title: str
    amount_fen: int  # signed: a withdrawal is negative
    balance_after_fen: int | None
    created_at: datetime
    url: str
    packet_id: int | None = None
    win_id: int | None = None
    sender: dict[str, Any] | None = None  # who sent a transfer


def notice_entries(*, user: User) -> QuerySet[Entry]:
    """The user's notice entries, newest first (for a paginated page)."""
    return (
        Entry.objects.filter(account__user=user)
        .filter(notice_filter())
        .select_related("transaction")
        .order_by("-id")
    )


def notices_of(entries: list[Entry]) -> list[Notice]:
    """The notices of these entries, in their order, with their links and a transfer's
    sender: a query per linked kind and one for transfers, whatever the number."""
    references: dict[str, list[str]] = {}
    for entry in entries:
        references.setdefault(entry.transaction.kind, []).append(entry.transaction.reference)
    links = {kind: notice_links(kind, refs) for kind, refs in references.items()}
    transfer = LedgerTransaction.Kind.TRANSFER
    transfer_ids = [e.transaction_id for e in entries if e.transaction.kind == transfer]
    senders: dict[int, dict[str, Any]] = {}
    if transfer_ids:
        legs = Entry.objects.filter(transaction_id__in=transfer_ids, amount_fen__lt=0)
        for leg in legs.select_related("account__user"):
            if leg.account.user is not None:
                senders[leg.transaction_id] = user_data(leg.account.user)
    ledger_url = reverse("wallet:ledger")
    notices = []
    for entry in entries:
        kind = entry.transaction.kind
        link = links[kind].get(entry.transaction.reference) or NoticeLink(
            url=f"{ledger_url}#entry-{entry.pk}"
        )
        notices.append(
            Notice(
                id=entry.pk,
                kind=kind,
                title=str(TITLES[kind]),
                amount_fen=entry.amount_fen,
                balance_after_fen=entry.balance_after_fen,
                created_at=entry.created_at,
                url=link.url,
                packet_id=link.packet_id,
                win_id=link.win_id,
                sender=senders.get(entry.transaction_id),
            )
        )
    return notices


NOTICES_CATCH_UP_MAX = 50


def notices_after(*, user: User, after: int, limit: int = NOTICES_CATCH_UP_MAX) -> list[Notice]:
    """The notices newer than entry `after`, oldest first, at most `limit`: what a page
    that was offline for a while (its socket dropped) missed."""
    entries = (
        Entry.objects.filter(account__user=user, pk__gt=after)
        .filter(notice_filter())
        .select_related("transaction")
        .order_by("id")[:limit]
    )
    return notices_of(list(entries))


@dataclass(frozen=True)
class NoticeState:
    """What the wallet badge shows: unseen notices (counted up to `UNSEEN_MAX`) and the
    newest notice's id (where a page starts catching up from)."""

    unseen: int
    last_id: int


UNSEEN_MAX = 99


def notice_state(*, user: User) -> NoticeState:
    """The badge of every signed-in page: two indexed reads of the newest entries."""
    seen = (
        NoticesSeen.objects.filter(user=user).values_list("up_to_entry_id", flat=True).first() or 0
    )
    newest = notice_entries(user=user).values_list("pk", flat=True)
    last_id = newest.first() or 0
    unseen = newest.filter(pk__gt=seen)[:UNSEEN_MAX].count() if last_id > seen else 0
    return NoticeState(unseen=unseen, last_id=last_id)


def system_balance(kind: str) -> int:
    """A system account's balance: the sum of its entries (it keeps no running balance)."""
    total: int = Entry.objects.filter(account__kind=kind).aggregate(
        total=Coalesce(Sum("amount_fen"), 0)
    )["total"]
    return total


@dataclass(frozen=True)
class Finding:
    """One broken rule: what kind, on which object, what was expected and what was found."""

    kind: str
    object: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.kind} {self.object}: expected {self.expected}, found {self.actual}"


def ledger_findings() -> list[Finding]:
    """SPEC §8 #2 and #5 on the whole ledger: every transaction balanced, the ledger sums
    to zero, each wallet balance equals its entries and is ≥ 0, escrows are ≥ 0, and the
    sandbox bank's statement matches the bank clearing account line by line."""
    findings: list[Finding] = []

    unbalanced = (
        LedgerTransaction.objects.annotate(
            total=Coalesce(Sum("entries__amount_fen"), 0), legs=Count("entries")
        )
        .filter(~Q(total=0) | Q(legs__lt=2))
        .values_list("reference", "total", "legs")
    )
    for reference, total, legs in unbalanced:
        findings.append(
            Finding(
                "unbalanced_transaction",
                reference,
                "2+ legs summing to 0",
                f"{legs} legs, sum {total}",
            )
        )

    grand_total = Entry.objects.aggregate(total=Coalesce(Sum("amount_fen"), 0))["total"]
    if grand_total != 0:
        findings.append(Finding("ledger_not_zero", "ledger", "0", str(grand_total)))

    wallets = Account.objects.filter(kind=Account.Kind.USER).annotate(
        entries_total=Coalesce(Sum("entries__amount_fen"), 0)
    )
    for account in wallets:
        if account.balance_fen != account.entries_total:
            findings.append(
                Finding(
                    "balance_mismatch",
                    f"account {account.pk} ({account.user_id})",
                    str(account.entries_total),
                    str(account.balance_fen),
                )
            )
        # A user wallet always keeps a balance (the account's CHECK): never None here.
        if cast(int, account.balance_fen) < 0:
            findings.append(
                Finding(
                    "negative_balance", f"account {account.pk}", ">= 0", str(account.balance_fen)
                )
            )

    for kind in (Account.Kind.PACKET_ESCROW, Account.Kind.CAMPAIGN_ESCROW):
        balance = system_balance(kind)
        if balance < 0:
            findings.append(Finding("negative_escrow", kind, ">= 0", str(balance)))

    findings.extend(statement_findings())
    return findings


def statement_findings() -> list[Finding]:
    """SPEC §8 #6, line by line: every operation the bank performed (an "ok" debit or
    credit on its statement) is one of our bank operations, for its amount and
    direction, with exactly one ledger transaction on the bank clearing account moving
    the same money; a refused operation moved nothing (no transaction, or a posting and
    its reversal); every transaction on the clearing account names its bank operation;
    and no operation stays unsettled.

    Matching goes by the operation's id (the ledger's foreign key; the bank knows the
    operation's reference), never by reading meaning into reference strings. A payment
    is in flight for a moment between the bank's answer and our commit: rows younger
    than RECONCILE_SETTLE_SECONDS wait for the next run."""
    findings: list[Finding] = []
    cutoff = timezone.now() - timedelta(seconds=settings.RECONCILE_SETTLE_SECONDS)
    operations = BankOperation.objects.all()
    lines = SandboxStatementLine.objects.filter(outcome="ok").exclude(operation="bind")
    legs = Entry.objects.filter(account__kind=Account.Kind.BANK_CLEARING)
    if settings.RECONCILE_SETTLE_SECONDS:
        operations = operations.filter(created_at__lte=cutoff)
        lines = lines.filter(created_at__lte=cutoff)
        legs = legs.filter(transaction__created_at__lte=cutoff)
    by_reference = {operation.reference: operation for operation in operations}
    by_id = {operation.pk: operation for operation in by_reference.values()}

    bank: dict[int, int] = {}
    for line in lines:
        operation = by_reference.get(line.reference)
        if operation is None:
            findings.append(
                Finding("statement_unknown_operation", line.reference, "a bank operation", "none")
            )
            continue
        direction = "debit" if operation.is_debit else "credit"
        if line.operation != direction or line.amount_fen != operation.amount_fen:
            findings.append(
                Finding(
                    "statement_mismatch",
                    operation.reference,
                    f"{direction} {operation.amount_fen}",
                    f"bank {line.operation} {line.amount_fen}",
                )
            )
        bank[operation.pk] = operation.clearing_amount_fen

    ours: dict[int, list[int]] = {}
    for reference, operation_id, amount in legs.values_list(
        "transaction__reference", "transaction__bank_operation_id", "amount_fen"
    ):
        if operation_id is None:
            findings.append(
                Finding("clearing_without_bank_operation", reference, "a bank operation", "none")
            )
            continue
        ours.setdefault(operation_id, []).append(amount)

    for operation_id in sorted(set(bank) | set(ours)):
        operation = by_id.get(operation_id)
        name = operation.reference if operation else f"bank operation {operation_id}"
        expected, posted = bank.get(operation_id, 0), sorted(ours.get(operation_id, []))
        matches = posted == [expected] if expected else sum(posted) == 0 and len(posted) in (0, 2)
        if not matches:
            findings.append(
                Finding("statement_mismatch", name, f"bank {expected}", f"ledger {posted}")
            )

    for operation in by_reference.values():
        if operation.state == BankOperation.State.PENDING:
            findings.append(
                Finding("bank_operation_unsettled", operation.reference, "settled", "pending")
            )
    return findings
