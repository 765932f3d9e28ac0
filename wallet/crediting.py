"""入账 — one rule for every credit from an escrow to a user's change (a claim, a win).

A creditable row has `user`, `amount_fen`, `credit_status` ("pending" / "credited") and
`credited_at`; its ledger reference is "<prefix>:<id>". The row is the queue of record:
its credit task may run twice or concurrently, and credits once.

The apps whose rows are credited register them as credit sources (their AppConfig.ready):
the sweeper (`wallet.tasks.credit_sweep`) and 对账 find stale pending credits through
them, and wallet imports none of those apps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from redpacket.accounts.models import User
from redpacket.kernel.events import publish_on_commit, user_group
from wallet import services as wallet
from wallet.queues import queue_credit
from wallet.selectors import balance_of

logger = logging.getLogger(__name__)

PENDING = "pending"
CREDITED = "credited"


@dataclass(frozen=True)
class CreditSource:
    """Rows of `model` credited through `credit_once`: `pending(older_than=…)` lists those
    still pending after a delay (largest or oldest first); `task(pk)` credits one."""

    model: type[models.Model]
    pending: Callable[..., models.QuerySet[Any]]
    task: Any


_sources: list[CreditSource] = []


def credit_source_register(
    *,
    model: type[models.Model],
    pending: Callable[..., models.QuerySet[Any]],
    task: Any,
) -> None:
    """Let the sweeper and 对账 look after another kind of creditable row."""
    source = CreditSource(model=model, pending=pending, task=task)
    if source not in _sources:
        _sources.append(source)


def credit_sources() -> list[CreditSource]:
    return list(_sources)


def credit_queue(row: Any) -> None:
    """Queue the credit of a new claim or win once its transaction commits, through its
    registered source's task: the services that create the rows need not import their
    own tasks module (which imports them)."""
    source = next(s for s in _sources if isinstance(row, s.model))
    queue_credit(source.task, row.pk, row.amount_fen)


def stale_credits(older_than: timedelta) -> Iterator[tuple[Any, Any]]:
    """(credit task, row) for every credit still pending after `older_than`, of every
    registered kind (claims, shake wins)."""
    for source in _sources:
        for row in source.pending(older_than=older_than).only("pk", "amount_fen"):
            yield source.task, row


def credits_requeue_stale() -> int:
    """The sweeper: queue again every credit still pending after
    CREDIT_SWEEP_AFTER_SECONDS (a lost message, a flushed broker, a dead worker); the
    ledger reference makes a second credit a no-op. Returns how many it queued."""
    queued = 0
    for task, row in stale_credits(timedelta(seconds=settings.CREDIT_SWEEP_AFTER_SECONDS)):
        queue_credit(task, row.pk, row.amount_fen, on_commit=False)
        queued += 1
    if queued:
        logger.info("credit sweep queued %d pending credit(s) again", queued)
    return queued


def credit_once(
    model: type[models.Model],
    pk: int,
    *,
    escrow: str,
    kind: str,
    reference_prefix: str,
    event: Callable[[int, int | None], dict[str, Any]],
    link_field: str | None = None,
) -> bool:
    """Credit one pending row of `model` from `escrow`; returns whether this run did.

    One statement marks the row credited and returns what to pay: it takes the row's
    lock, so a concurrent run waits, then finds it credited and does nothing; the ledger
    movement in the same transaction is unique on its reference besides. After commit,
    `wallet.credited` goes to the receiver's connections, with the fields
    `event(pk, link)` names (API.md: `source`, `packet_id` or `win_id`); `link` is the
    row's `link_field` column (a claim's packet), read by the same statement.
    """
    with transaction.atomic():
        row = _mark_credited(model, pk, link_field)
        if row is None:  # no such row, or credited already
            return False
        user_id, amount_fen, link = row
        user = User(pk=user_id)
        txn, _created = wallet.wallet_credit_from_escrow(
            user=user,
            escrow=escrow,
            amount_fen=amount_fen,
            reference=f"{reference_prefix}:{pk}",
            kind=kind,
        )
        # The balance the ledger just wrote; a movement posted earlier carries none.
        balance = getattr(txn, "balance_after_by_user", {}).get(user_id)
        if balance is None:
            balance = balance_of(user)
        publish_on_commit(
            user_group(user_id),
            {
                "type": "wallet.credited",
                "amount_fen": amount_fen,
                "balance_fen": balance,
                **event(pk, link),
            },
        )
    return True


def _mark_credited(
    model: type[models.Model], pk: int, link_field: str | None
) -> tuple[int, int, int | None] | None:
    """UPDATE … RETURNING (which the ORM's update() cannot): (user id, amount, link) of
    the row if it was pending; link is the `link_field` column, or None."""
    meta = model._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        field = meta.get_field(name)
        # A concrete field of the model: a Field, with its column (not a reverse relation).
        assert isinstance(field, models.Field) and field.column is not None
        return quote(field.column)

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)}"
            f" SET {column('credit_status')} = %s, {column('credited_at')} = %s"
            f" WHERE {column(meta.pk.name)} = %s AND {column('credit_status')} = %s"
            f" RETURNING {column('user')}, {column('amount_fen')},"
            f" {column(link_field) if link_field else 'NULL'}",
            [CREDITED, connection.ops.adapt_datetimefield_value(timezone.now()), pk, PENDING],
        )
        return cursor.fetchone()
