"""The ledger: accounts, and one balanced transaction per business reference.

User wallets are changed only here, under row locks taken in account-id order, in the
same database transaction that writes their entries."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Q
from django.utils import timezone

from redpacket.accounts.models import User
from wallet import errors
from wallet.models import (
    Account,
    BankOperation,
    Entry,
    LedgerTransaction,
)

Kind = LedgerTransaction.Kind
logger = logging.getLogger(__name__)


# --- Accounts ---------------------------------------------------------------------------


def account_for_user(user: User) -> Account:
    """The user's wallet account, created on first use."""
    account = Account.objects.filter(user=user).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(kind=Account.Kind.USER, user=user, balance_fen=0)
    except IntegrityError:  # created concurrently
        return Account.objects.get(user=user)


_system_accounts: dict[str, Account] = {}


def system_account(kind: str) -> Account:
    """The one account of a system kind (packet escrow, campaign escrow, bank clearing).

    Read once per process: system accounts are never deleted (entries protect them), and
    nearly every movement names one, so a read per movement would be a round trip spent
    on a constant. (Tests that empty the database clear this with `forget_accounts()`.)"""
    if kind == Account.Kind.USER:
        raise ValueError("user wallets are per user: use account_for_user")
    account = _system_accounts.get(kind)
    if account is not None:
        return account
    account = Account.objects.filter(kind=kind).first()
    if account is None:
        try:
            with transaction.atomic():
                account = Account.objects.create(kind=kind)
        except IntegrityError:
            account = Account.objects.get(kind=kind)
    # Remembered only once the row is surely there: one created inside a transaction
    # that rolls back would otherwise be named by every later movement of the process.
    found = account
    transaction.on_commit(lambda: _system_accounts.setdefault(kind, found))
    return account


def forget_accounts() -> None:
    """Drop the cached system accounts (after the database was emptied and refilled)."""
    _system_accounts.clear()


# --- The ledger -------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One side of a movement: an account, or a user's wallet named by its user
    (`Leg.wallet_of`), which `ledger_post` reads as it locks it (one read, not two)."""

    account: Account | None
    amount_fen: int
    user_id: int | None = None

    @classmethod
    def wallet_of(cls, user: User, amount_fen: int) -> Leg:
        return cls(account=None, amount_fen=amount_fen, user_id=user.pk)


def ledger_post(
    *,
    kind: str,
    reference: str,
    legs: list[Leg],
    memo: str = "",
    bank_operation: BankOperation | None = None,
    actor: User | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Post one balanced transaction, once per `reference`.

    Locks the user wallets among the legs in id order (two movements over the same
    wallets never deadlock), refuses to take a wallet below zero (InsufficientBalance),
    and records each wallet's balance after the movement. Returns (transaction, created);
    a reference already posted with the same kind, legs and bank operation returns (that
    transaction, False) and moves nothing. The same reference with anything else is
    refused loudly (LedgerConflict, logged): a replay never stands in for a different
    movement. References are built by the services from server-side ids only.
    A new transaction carries `balance_after_by_user` (user id → change after it), so a
    caller that announces the new balance needs no second read.

    Atomic with the caller's transaction, without savepoints (four round trips less on
    every movement): the refusal is raised after the block, with nothing written, so a
    caller's transaction survives it; a database error inside fails the caller's
    transaction, as it would in PostgreSQL anyway.
    """
    if len(legs) < 2 or any(leg.amount_fen == 0 for leg in legs):
        raise ValueError("a ledger transaction needs at least two non-zero legs")
    if sum(leg.amount_fen for leg in legs) != 0:
        raise ValueError("the legs of a ledger transaction must sum to zero")

    conflict = False
    with transaction.atomic(savepoint=False):
        locked = _lock_wallets(legs)
        entries, balances = _entries(legs, locked)
        txn = (
            None
            if entries is None
            else _record(
                kind=kind,
                reference=reference,
                memo=memo,
                bank_operation_id=bank_operation.pk if bank_operation else None,
                actor_id=actor.pk if actor else None,
            )
        )
        if txn is None:
            # Posted already, or refused. Read after the locks and the insert: a post of
            # the same reference that held them has committed by now and is visible, so
            # a retry is a no-op, not a second debit (nor a refusal).
            existing = LedgerTransaction.objects.filter(reference=reference).first()
            if existing is not None:
                if _is_replay(existing, kind, legs, locked, bank_operation):
                    return existing, False
                conflict = True
            # Refused before anything was written: leave the block normally (an
            # exception would doom a caller's transaction, there being no savepoint).
        else:
            assert entries is not None  # a transaction is recorded only with its entries
            for entry in entries:
                entry.transaction = txn
            Entry.objects.bulk_create(entries)
            for pk, balance in balances.items():
                Account.objects.filter(pk=pk).update(balance_fen=balance)
    if conflict:
        raise errors.LedgerConflict()
    if txn is None:
        raise errors.InsufficientBalance()
    txn.balance_after_by_user = {  # type: ignore[attr-defined]
        locked[pk].user_id: balance for pk, balance in balances.items()
    }
    return txn, True


def balance_after(txn: LedgerTransaction, user: User) -> int:
    """The user's change right after `txn` (what an event announces): the balance
    `ledger_post` wrote, or the current one for a transaction posted earlier."""
    balance = getattr(txn, "balance_after_by_user", {}).get(user.pk)
    if balance is None:
        balance = Account.objects.filter(user=user).values_list("balance_fen", flat=True).first()
    return balance or 0


@dataclass(frozen=True)
class CreditPosting:
    """One credit of a batch (`ledger_post_credits`): `amount_fen` out of `source` (a
    system account) into `user_id`'s wallet, once per `reference`."""

    reference: str
    source: Account
    user_id: int
    amount_fen: int


def ledger_post_credits(
    *, kind: str, credits: list[CreditPosting]
) -> list[LedgerTransaction | None]:
    """Post many credits at once: one balanced transaction per credit (its own
    `reference`, as `ledger_post` would), but each wallet locked and its balance written
    once for the whole batch, and every transaction and entry inserted in one statement
    each. Entries record each wallet's running balance in the order given.

    Returns, in the order given, each credit's transaction (a new one carries
    `balance_after_by_user`, as from `ledger_post`); a reference posted earlier with the
    same legs gives that transaction (without balances); one posted with anything else
    gives None (LedgerConflict's case, logged) and moves nothing. A credit only adds to a
    wallet, so none is refused for want of money. Atomic with the caller's transaction.
    """
    for credit in credits:
        _check_amount(credit.amount_fen)
    if len({credit.reference for credit in credits}) != len(credits):
        raise ValueError("each credit of a batch needs its own reference")
    if not credits:
        return []
    with transaction.atomic(savepoint=False):
        _create_wallets({c.user_id for c in credits})
        locked = _lock_wallets(
            [Leg(account=None, amount_fen=c.amount_fen, user_id=c.user_id) for c in credits]
        )
        wallet_of_user = {account.user_id: account for account in locked.values()}
        created_at = timezone.now()
        posted = _record_many(kind=kind, references=[c.reference for c in credits], now=created_at)
        results: list[LedgerTransaction | None] = []
        entries: list[tuple[int, int, int, int | None]] = []
        balances = {pk: cast(int, account.balance_fen) for pk, account in locked.items()}
        earlier = {
            txn.reference: txn
            for txn in LedgerTransaction.objects.filter(
                reference__in=[c.reference for c in credits if c.reference not in posted]
            )
        }
        for credit in credits:
            wallet = wallet_of_user[credit.user_id]
            legs = [
                Leg(credit.source, -credit.amount_fen),
                Leg(account=None, amount_fen=credit.amount_fen, user_id=credit.user_id),
            ]
            pk = posted.get(credit.reference)
            if pk is None:  # posted before this batch: a replay, or a conflict
                existing = earlier[credit.reference]
                same = _is_replay(existing, kind, legs, locked, None)
                results.append(existing if same else None)
                continue
            balances[wallet.pk] += credit.amount_fen
            txn = LedgerTransaction(
                pk=pk, kind=kind, reference=credit.reference, memo="", created_at=created_at
            )
            txn.balance_after_by_user = {credit.user_id: balances[wallet.pk]}  # type: ignore[attr-defined]
            entries += [
                (pk, credit.source.pk, -credit.amount_fen, None),
                (pk, wallet.pk, credit.amount_fen, balances[wallet.pk]),
            ]
            results.append(txn)
        _insert_entries(entries, created_at)
        changed = {pk: b for pk, b in balances.items() if b != locked[pk].balance_fen}
        _write_balances(changed)
    return results


def _create_wallets(user_ids: set[int]) -> None:
    """Create the wallets missing among `user_ids` before any is locked, in one
    statement in user id order: two batches that lock wallets and create others in
    between could deadlock (each waiting for the other's new row or for a row it
    holds); creating first, in one order, and locking after cannot."""
    missing = user_ids - set(
        Account.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True)
    )
    if not missing:
        return
    quote = connection.ops.quote_name
    columns = ["kind", "user_id", "balance_fen", "created_at"]
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[int | str | None] = []
    for user_id in sorted(missing):
        params += [str(Account.Kind.USER), user_id, 0, stamp]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Account._meta.db_table)} ({', '.join(map(quote, columns))})"
            f" VALUES {', '.join(['(%s, %s, %s, %s)'] * len(missing))}"
            f" ON CONFLICT ({quote('user_id')}) DO NOTHING",
            params,
        )


def _record_many(*, kind: str, references: list[str], now: datetime) -> dict[str, int]:
    """Insert a transaction row per reference not posted yet, in one statement; returns
    reference → id of those inserted (the unique index skips the others)."""
    meta = LedgerTransaction._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        field = meta.get_field(name)
        assert isinstance(field, Field) and field.column is not None
        return field.column

    columns = [column(name) for name in _RECORD_FIELDS]
    row = f"({', '.join(['%s'] * len(columns))})"
    stamp = connection.ops.adapt_datetimefield_value(now)
    params: list[str | None] = []
    for reference in references:
        params += [kind, reference, "", None, None, stamp]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(map(quote, columns))})"
            f" VALUES {', '.join([row] * len(references))}"
            f" ON CONFLICT ({quote(columns[1])}) DO NOTHING"
            f" RETURNING {quote(column(meta.pk.name))}, {quote(columns[1])}",
            params,
        )
        return {reference: pk for pk, reference in cursor.fetchall()}


def _insert_entries(entries: list[tuple[int, int, int, int | None]], now: datetime) -> None:
    """(transaction id, account id, amount, balance after) rows in one INSERT: a batch's
    hundreds of model instances cost more to build than the statement does."""
    if not entries:
        return
    quote = connection.ops.quote_name
    columns = ["transaction_id", "account_id", "amount_fen", "balance_after_fen", "created_at"]
    stamp = connection.ops.adapt_datetimefield_value(now)
    params: list[int | str | None] = []
    for entry in entries:
        params += [*entry, stamp]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Entry._meta.db_table)} ({', '.join(map(quote, columns))})"
            f" VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(entries))}",
            params,
        )


def _write_balances(balances: dict[int, int]) -> None:
    """Each wallet's new balance, all in one statement (UPDATE … SET … = CASE id …)."""
    if not balances:
        return
    table = connection.ops.quote_name(Account._meta.db_table)
    items = sorted(balances.items())
    cases = " ".join(["WHEN %s THEN %s"] * len(items))
    params: list[int] = [value for item in items for value in item]
    params += [pk for pk, _ in items]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET balance_fen = CASE id {cases} END"
            f" WHERE id IN ({', '.join(['%s'] * len(items))})",
            params,
        )


def _is_replay(
    existing: LedgerTransaction,
    kind: str,
    legs: list[Leg],
    locked: dict[int, Account],
    bank_operation: BankOperation | None,
) -> bool:
    """A replay asks for exactly what was posted; anything else is a conflict (logged)."""
    wallet_of_user = {account.user_id: account.pk for account in locked.values()}
    asked = sorted(
        (
            leg.account.pk if leg.account is not None else wallet_of_user.get(leg.user_id),
            leg.amount_fen,
        )
        for leg in legs
    )
    posted = sorted(existing.entries.values_list("account_id", "amount_fen"))
    same = (
        existing.kind == kind
        and asked == posted
        and existing.bank_operation_id == (bank_operation.pk if bank_operation else None)
    )
    if not same:
        logger.error(
            "ledger conflict: reference %s posted as %s %s, asked again as %s %s",
            existing.reference,
            existing.kind,
            posted,
            kind,
            asked,
        )
    return same


def _entries(
    legs: list[Leg], locked: dict[int, Account]
) -> tuple[list[Entry] | None, dict[int, int]]:
    """The movement's entries and each locked wallet's balance after it; no entries if
    a wallet would go below zero."""
    wallet_of_user = {account.user_id: account for account in locked.values()}
    # Locked accounts are user wallets, which always keep a balance (the account's CHECK).
    balances = {pk: cast(int, account.balance_fen) for pk, account in locked.items()}
    entries = []
    for leg in legs:
        account = leg.account if leg.account is not None else wallet_of_user[leg.user_id]
        balance_after: int | None = None
        if account.pk in balances:
            balance_after = balances[account.pk] + leg.amount_fen
            if balance_after < 0:
                return None, balances
            balances[account.pk] = balance_after
        entries.append(
            Entry(account=account, amount_fen=leg.amount_fen, balance_after_fen=balance_after)
        )
    return entries, balances


_RECORD_FIELDS = ("kind", "reference", "memo", "bank_operation", "actor", "created_at")


def _record(
    *,
    kind: str,
    reference: str,
    memo: str,
    bank_operation_id: int | None,
    actor_id: int | None,
) -> LedgerTransaction | None:
    """Insert the transaction's row; None if its reference is posted already. One
    statement (INSERT … ON CONFLICT DO NOTHING RETURNING, which the ORM cannot say): the
    unique index settles a race of two posts of the reference, with no savepoint."""
    created_at = timezone.now()
    meta = LedgerTransaction._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        field = meta.get_field(name)
        # A concrete field of the model: a Field, with its column (not a reverse relation).
        assert isinstance(field, Field) and field.column is not None
        return field.column

    columns = [column(name) for name in _RECORD_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(map(quote, columns))})"
            f" VALUES ({', '.join(['%s'] * len(columns))})"
            f" ON CONFLICT ({quote(columns[1])}) DO NOTHING"
            f" RETURNING {quote(column(meta.pk.name))}",
            [
                kind,
                reference,
                memo,
                bank_operation_id,
                actor_id,
                connection.ops.adapt_datetimefield_value(created_at),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return LedgerTransaction(
        pk=row[0],
        kind=kind,
        reference=reference,
        memo=memo,
        bank_operation_id=bank_operation_id,
        actor_id=actor_id,
        created_at=created_at,
    )


def _lock_wallets(legs: list[Leg]) -> dict[int, Account]:
    """Lock the user wallets among the legs in id order, in one statement; a wallet
    named by its user is created on first use."""
    ids = {leg.account.pk for leg in legs if leg.account is not None and leg.account.is_user_wallet}
    user_ids = {leg.user_id for leg in legs if leg.account is None}

    def lock() -> dict[int, Account]:
        wallets = Account.objects.select_for_update().filter(
            Q(pk__in=ids) | Q(user_id__in=user_ids)
        )
        return {account.pk: account for account in wallets.order_by("pk")}

    locked = lock()
    missing = user_ids - {account.user_id for account in locked.values()}
    if missing:
        for user_id in missing:
            account_for_user(User(pk=user_id))
        locked = lock()
    return locked


# --- Request keys and amounts ---------------------------------------------------------


def _check_amount(amount_fen: int) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValueError("amounts are positive integers of fen")


def check_request_key(request_key: str | None) -> str:
    """A request's server-side id (an idempotency record's id, or a caller's own token):
    letters, digits, '-' and '_' only, so no reference built from it can spell another
    movement's reference. None → a fresh one (a movement no retry can repeat)."""
    if request_key is None:
        return uuid.uuid4().hex
    if not (
        isinstance(request_key, str)
        and 1 <= len(request_key) <= 64
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in request_key)
    ):
        raise ValueError("a request key is a server-side id: [A-Za-z0-9_-]{1,64}")
    return request_key


# What a retry of the same request finds of its earlier bank operation: an unsettled or
# successful one is resumed (the bank replays its answer), a refused one replays its
