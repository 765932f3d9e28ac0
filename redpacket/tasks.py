"""Celery tasks: thin wrappers that load ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from redpacket import services
from redpacket.models import Claim


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=None,
    time_limit=60,
    soft_time_limit=50,
)
def claim_credit(claim_id: int) -> bool:
    return services.claim_credit(claim_id=claim_id)


def queue_claim_credit(claim: Claim) -> None:
    """Queue the credit after the claim commits (its pending state is committed with it,
    so a lost message is found again by the sweeper)."""
    claim_credit.delay_on_commit(claim.pk)


@shared_task(time_limit=300)
def expire_packets() -> int:
    return services.packets_expire_due()
