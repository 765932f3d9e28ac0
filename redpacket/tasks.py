"""Celery tasks: thin wrappers that load ids and call a service.

Credit tasks are idempotent (a row lock plus the ledger's unique reference), so they may
be acknowledged late and re-run after a worker dies mid-task; the database, not the
broker, is the queue of record, and the sweeper finds what a lost message left behind.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError

from redpacket import services
from redpacket.core.queues import queue_credit
from redpacket.models import Claim

logger = logging.getLogger(__name__)

_CREDIT_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "max_retries": None,
    "time_limit": 60,
    "soft_time_limit": 50,
}


@shared_task(**_CREDIT_TASK)
def claim_credit(claim_id: int) -> bool:
    return services.claim_credit(claim_id=claim_id)


def queue_claim_credit(claim: Claim) -> None:
    """Queue the credit once the claim commits, larger shares first."""
    queue_credit(claim_credit, claim.pk, claim.amount_fen)


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True, time_limit=300)
def credit_sweep() -> int:
    """Queue again every credit still pending after CREDIT_SWEEP_AFTER_SECONDS."""
    older_than = timedelta(seconds=settings.CREDIT_SWEEP_AFTER_SECONDS)
    queued = 0
    for claim_id, amount_fen in services.claims_pending(older_than=older_than).values_list(
        "pk", "amount_fen"
    ):
        queue_credit(claim_credit, claim_id, amount_fen, on_commit=False)
        queued += 1
    if queued:
        logger.info("credit sweep queued %d pending claim(s) again", queued)
    return queued


@worker_ready.connect
def _sweep_when_a_worker_starts(sender=None, **kwargs):  # type: ignore[no-untyped-def]
    # A worker that starts may be replacing one that died holding unacknowledged
    # credits: look for stale pending credits at once rather than at the next beat.
    credit_sweep.delay()


@shared_task(acks_late=True, time_limit=300)
def expire_packets() -> int:
    return services.packets_expire_due()


@shared_task(time_limit=3600)
def reconcile() -> int:
    from redpacket.reconciliation import reconcile as run_reconciliation

    return run_reconciliation().pk
