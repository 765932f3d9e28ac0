"""Celery tasks: thin wrappers that load ids and call a service.

Task names are pinned to those they had when this module was `redpacket/tasks.py`, so
messages already queued and the beat schedule still route.
"""

from __future__ import annotations

from celery import shared_task

from redpacket.packets import services
from wallet.tasks import CREDIT_TASK_OPTIONS


@shared_task(name="redpacket.tasks.claim_credit", **CREDIT_TASK_OPTIONS)
def claim_credit(claim_id: int) -> bool:
    return services.claim_credit(claim_id=claim_id)


@shared_task(name="redpacket.tasks.expire_packets", acks_late=True, time_limit=300)
def expire_packets() -> int:
    return services.packets_expire_due()
