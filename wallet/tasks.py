"""Celery tasks of the wallet: the crediting drain, the credit sweeper and 对账.

Credit tasks are idempotent (row locks, the pending status and the ledger's unique
reference), so they may be acknowledged late and re-run after a worker dies mid-task; the
database, not the broker, is the queue of record, and the sweeper finds what a lost
message left behind.

Task names are pinned to those they had in `redpacket/tasks.py`, so messages already
queued and the beat schedule still route.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from wallet import crediting, idempotency, reconciliation

# The options of every credit task (claims, wins): see the module's docstring.
CREDIT_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "max_retries": None,
    "time_limit": 60,
    "soft_time_limit": 50,
}


# How long one drain task credits before it hands the rest to a new message (below its
# time limit, so a huge backlog never gets a drain killed mid-batch).
DRAIN_SECONDS = 30


@shared_task(name="wallet.tasks.credit_drain", **CREDIT_TASK_OPTIONS)
def credit_drain() -> int:
    """Credit the pending claims and wins, batch after batch, until none is left."""
    return crediting.credits_drain(max_seconds=DRAIN_SECONDS)


@shared_task(
    name="redpacket.tasks.credit_sweep",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    time_limit=300,
)
def credit_sweep() -> int:
    """Drain now if any credit is still pending after CREDIT_SWEEP_AFTER_SECONDS."""
    return crediting.credits_requeue_stale()


@worker_ready.connect
def _sweep_when_a_worker_starts(sender=None, **kwargs):
    # A worker that starts may be replacing one that died holding unacknowledged
    # credits: look for stale pending credits at once rather than at the next beat.
    credit_sweep.delay()


@shared_task(name="redpacket.tasks.reconcile", time_limit=3600)
def reconcile(run_id: int | None = None) -> int:
    return reconciliation.reconcile(run_id=run_id).pk


@shared_task(name="wallet.tasks.idempotency_purge", time_limit=600)
def idempotency_purge() -> int:
    """Forget answered Idempotency-Keys past their retry window (IDEMPOTENCY_KEEP_DAYS)."""
    return idempotency.idempotency_purge()
