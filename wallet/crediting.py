"""入账 — an outbox: one rule for every credit from an escrow to a user's change (a claim,
a win).

A creditable row has `user`, `amount_fen`, `credit_status` ("pending" / "credited") and
`credited_at`; its ledger reference is "<prefix>:<id>". The pending rows *are* the queue
of record. A worker drains it in batches (`credit_batch`): it takes the largest pending
rows first (大额优先) with `FOR UPDATE SKIP LOCKED` (several workers share the queue),
posts each row's own ledger transaction, writes each wallet's balance once per batch,
marks the rows credited and runs the source's `after` hook (the sender's notices), all in
one database transaction; then `wallet.credited` goes to each receiver.

The services that create rows only *wake* the worker (`credit_wake`): a flag in the cache
set with NX before the wake-up message is sent, cleared by the drain before it starts, so
a burst of opens costs one broker message and no wake-up is lost. The message is due
CREDIT_WAKE_DELAY_MS after it is sent, and a drain stops at its first batch that is not
full: rows that arrive meanwhile wait for the next wake-up, so under a steady stream of
opens the worker credits a batch per delay instead of a few rows per wake-up. The sweeper
(`credits_requeue_stale`) wakes a drain whenever credits stay pending too long (a lost
message, a flushed broker, a dead worker); the ledger reference makes a second credit a
no-op.

The apps whose rows are credited register them as credit sources (their AppConfig.ready):
the drain, the sweeper and 对账 find them through them, and wallet imports none of those
apps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.utils import timezone

from redpacket.accounts.models import User
from redpacket.kernel.events import publish_many_on_commit, user_group
from wallet import services as wallet
from wallet.selectors import balance_of

logger = logging.getLogger(__name__)

PENDING = "pending"
CREDITED = "credited"

# The debounce flag of the wake-up: set (NX) by the one who sends the message, cleared by
# the drain that receives it. It expires, so a message lost with the flag set holds the
# next wake-ups back for this long at most (the sweeper heals the rows meanwhile).
WAKE_FLAG = "credit:wake"
WAKE_FLAG_SECONDS = 30


@dataclass(frozen=True)
class Credited:
    """One row a batch credited, as the source's `after` hook sees it."""

    pk: int
    user_id: int
    amount_fen: int
    link: int | None
    balance_fen: int
    partition_key: Any = None  # the row's `partition_field` value, if the source has one


@dataclass(frozen=True)
class CreditSource:
    """Rows of `model` credited out of the `escrow` account into their users' change,
    under ledger transactions of `kind` with references "<reference_prefix>:<id>".

    `pending(older_than=…)` lists those still pending after a delay (for the sweeper and
    对账); `event(pk, link)` names the source's fields of `wallet.credited` (API.md:
    `source`, `packet_id` or `win_id`), `link` being the row's `link_field` column;
    `after(credited)` runs inside the batch's transaction once its rows are marked
    credited (so it runs exactly once per row). `partition_field` is the column the
    model's table is partitioned by (PostgreSQL), if it is: the batch takes it with each
    row, so that marking the rows credited (and `after`, from `Credited.partition_key`)
    names their partitions instead of looking for each id in every one of them.
    """

    model: type[models.Model]
    pending: Callable[..., models.QuerySet[Any]]
    escrow: str
    kind: str
    reference_prefix: str
    event: Callable[[int, int | None], dict[str, Any]]
    link_field: str | None = None
    after: Callable[[list[Credited]], None] | None = None
    partition_field: str | None = None


_sources: list[CreditSource] = []


def credit_source_register(source: CreditSource) -> None:
    """Let the drain, the sweeper and 对账 look after another kind of creditable row."""
    if all(s.model is not source.model for s in _sources):
        _sources.append(source)


def credit_sources() -> list[CreditSource]:
    return list(_sources)


def credit_source_of(model: type[models.Model]) -> CreditSource:
    return next(s for s in _sources if s.model is model)


# --- Waking the worker ------------------------------------------------------------------


def credit_wake() -> None:
    """Wake the crediting worker once the current transaction commits (a new claim or
    win is pending): one message at most in flight, however many rows wait."""
    transaction.on_commit(_wake)


def _wake() -> None:
    try:
        first = cache.add(WAKE_FLAG, 1, timeout=WAKE_FLAG_SECONDS)
    except Exception:  # the cache is down: wake anyway (a message too many is harmless)
        logger.warning("credit wake-up flag unavailable; sending the wake-up", exc_info=True)
        first = True
    if first:
        _send_drain(delay_seconds=settings.CREDIT_WAKE_DELAY_MS / 1000)


def _send_drain(*, delay_seconds: float = 0) -> None:
    from wallet.tasks import credit_drain

    credit_drain.apply_async(countdown=delay_seconds or None)


def _clear_wake_flag() -> None:
    try:
        cache.delete(WAKE_FLAG)
    except Exception:  # a flag left set expires; the sweeper covers the gap
        logger.warning("credit wake-up flag could not be cleared", exc_info=True)


# --- Draining the queue -----------------------------------------------------------------


def credits_drain(*, max_seconds: float | None = None) -> int:
    """Credit the pending rows of every source, batch after batch, while batches come
    full (rows another worker holds are its own). Clears the wake-up flag first, so an
    open that commits after this point wakes another drain, and one before is seen here:
    a batch that is not full took every row it could see, and what commits after it has
    a wake-up of its own. With `max_seconds`, stops after that long and queues another
    drain for the rest (a task's time limit). Returns how many rows it credited."""
    _clear_wake_flag()
    started = time.monotonic()
    total = 0
    limit = settings.CREDIT_BATCH_SIZE
    while True:
        counts = [credit_batch(source, limit=limit) for source in credit_sources()]
        total += sum(counts)
        if all(count < limit for count in counts):
            return total
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            transaction.on_commit(_send_drain)
            return total


def credit_batch(
    source: CreditSource, *, ids: list[int] | None = None, limit: int | None = None
) -> int:
    """Credit one batch of `source`'s pending rows (only `ids`, if given), largest first,
    in one transaction; returns how many this run credited. Rows locked by another run
    are skipped (that run credits them); rows credited already are not pending any more.
    Safe to run twice or concurrently."""
    limit = limit or settings.CREDIT_BATCH_SIZE
    with transaction.atomic():
        rows = _take(source, ids=ids, limit=limit)
        if not rows:
            return 0
        escrow = wallet.system_account(source.escrow)
        postings = [
            wallet.CreditPosting(
                reference=f"{source.reference_prefix}:{pk}",
                source=escrow,
                user_id=user_id,
                amount_fen=amount_fen,
            )
            for pk, user_id, amount_fen, _link, _key in rows
        ]
        txns = wallet.ledger_post_credits(kind=source.kind, credits=postings)
        credited: list[Credited] = []
        for (pk, user_id, amount_fen, link, key), txn in zip(rows, txns, strict=True):
            if txn is None:  # the reference was posted with other legs: left pending
                logger.error(
                    "%s %s left pending: its ledger reference was posted with other legs",
                    source.model._meta.model_name,
                    pk,
                )
                continue
            balance = getattr(txn, "balance_after_by_user", {}).get(user_id)
            if balance is None:  # posted before this batch
                balance = balance_of(User(pk=user_id))
            credited.append(Credited(pk, user_id, amount_fen, link, balance, key))
        _mark_credited(source, credited)
        if source.after is not None and credited:
            source.after(credited)
        publish_many_on_commit(
            [
                (
                    user_group(credit.user_id),
                    {
                        "type": "wallet.credited",
                        "amount_fen": credit.amount_fen,
                        "balance_fen": credit.balance_fen,
                        **source.event(credit.pk, credit.link),
                    },
                )
                for credit in credited
            ]
        )
    return len(credited)


def _take(
    source: CreditSource, *, ids: list[int] | None, limit: int
) -> list[tuple[int, int, int, int | None, Any]]:
    """(id, user id, amount, link, partition key) of up to `limit` pending rows, largest
    first, locked for this transaction; rows another transaction holds are skipped
    (PostgreSQL's SKIP LOCKED; SQLite has one writer and ignores it)."""
    rows = source.model._default_manager.filter(credit_status=PENDING)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    extra = [
        name
        for name in (
            f"{source.link_field}_id" if source.link_field else None,
            source.partition_field,
        )
        if name
    ]
    taken = (
        rows.order_by("-amount_fen", "pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", "user_id", "amount_fen", *extra)[:limit]
    )
    result = []
    for pk, user_id, amount_fen, *more in taken:
        link = more.pop(0) if source.link_field else None
        key = more.pop(0) if source.partition_field else None
        result.append((pk, user_id, amount_fen, link, key))
    return result


def _mark_credited(source: CreditSource, credited: list[Credited]) -> None:
    """Mark the rows credited in one statement, each at its own instant in the order
    credited (largest first), so `credited_at` tells the order within a batch too; on a
    partitioned table only in the partitions that hold them."""
    if not credited:
        return
    pks = [c.pk for c in credited]
    meta = source.model._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        field = meta.get_field(name)
        # A concrete field of the model: a Field, with its column (not a reverse relation).
        assert isinstance(field, models.Field) and field.column is not None
        return quote(field.column)

    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value
    pk = column(meta.pk.name)
    params: list[Any] = [CREDITED]
    for i, row in enumerate(pks):
        params += [row, at(now + timedelta(microseconds=i))]
    params += pks
    where = f"{pk} IN ({', '.join(['%s'] * len(pks))})"
    if source.partition_field:
        keys = sorted({c.partition_key for c in credited})
        where += f" AND {column(source.partition_field)} IN ({', '.join(['%s'] * len(keys))})"
        params += [at(key) for key in keys]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {column('credit_status')} = %s,"
            f" {column('credited_at')} = CASE {pk} {' '.join(['WHEN %s THEN %s'] * len(pks))}"
            f" END WHERE {where}",
            params,
        )
        if cursor.rowcount != len(pks):
            # Each row was taken locked and pending by this transaction: a row not found
            # here would be credited in the ledger but left pending. Undo the batch.
            raise RuntimeError(f"marked {cursor.rowcount} of {len(pks)} credited rows")


# --- The sweeper and 对账 ---------------------------------------------------------------


def stale_credits(older_than: timedelta) -> Iterator[tuple[CreditSource, Any]]:
    """(source, row) for every credit still pending after `older_than`, of every
    registered kind (claims, shake wins)."""
    for source in _sources:
        for row in source.pending(older_than=older_than).only("pk", "amount_fen"):
            yield source, row


def credits_requeue_stale() -> int:
    """The sweeper: if any credit is still pending after CREDIT_SWEEP_AFTER_SECONDS (a
    lost wake-up, a flushed broker, a dead worker), send a drain now, whatever the
    wake-up flag says. Returns how many stale credits it found."""
    stale = sum(1 for _ in stale_credits(timedelta(seconds=settings.CREDIT_SWEEP_AFTER_SECONDS)))
    if stale:
        logger.info("credit sweep: %d credit(s) pending too long; draining", stale)
        _send_drain()
    return stale
