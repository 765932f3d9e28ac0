"""Celery tasks: thin wrappers that load ids and call a service.

Credit tasks are idempotent (a row lock plus the ledger's unique reference), so they may
be acknowledged late and re-run after a worker dies mid-task; the database, not the
broker, is the queue of record, and the sweeper finds what a lost message left behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError
from django.utils.module_loading import import_string

from redpacket import services
from redpacket.core.queues import queue_credit
from redpacket.models import Claim

logger = logging.getLogger(__name__)

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


@shared_task(**CREDIT_TASK_OPTIONS)
def claim_credit(claim_id: int) -> bool:
    return services.claim_credit(claim_id=claim_id)


def queue_claim_credit(claim: Claim) -> None:
    """Queue the credit once the claim commits, larger shares first."""
    queue_credit(claim_credit, claim.pk, claim.amount_fen)


def stale_credits(older_than: timedelta) -> Iterator[tuple[Any, Any]]:
    """(credit task, row) for every credit still pending after `older_than`, of every kind
    the sweeper looks after (settings CREDIT_SOURCES: claims, shake wins)."""
    for selector_path, task_path in settings.CREDIT_SOURCES:
        task = import_string(task_path)
        for row in import_string(selector_path)(older_than=older_than).only("pk", "amount_fen"):
            yield task, row


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True, time_limit=300)
def credit_sweep() -> int:
    """Queue again every credit still pending after CREDIT_SWEEP_AFTER_SECONDS."""
    queued = 0
    for task, row in stale_credits(timedelta(seconds=settings.CREDIT_SWEEP_AFTER_SECONDS)):
        queue_credit(task, row.pk, row.amount_fen, on_commit=False)
        queued += 1
    if queued:
        logger.info("credit sweep queued %d pending credit(s) again", queued)
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
