"""Celery tasks: thin wrappers that load ids and call a service."""

from __future__ import annotations

from celery import shared_task

from shake import services
from wallet.tasks import CREDIT_TASK_OPTIONS


@shared_task(name="shake.tasks.win_credit", **CREDIT_TASK_OPTIONS)
def win_credit(win_id: int) -> bool:
    return services.win_credit(win_id=win_id)


@shared_task(name="shake.tasks.end_campaigns", time_limit=300, soft_time_limit=280)
def end_campaigns() -> int:
    """The minute sweep (CELERY_BEAT_SCHEDULE): start the scheduled campaigns whose time
    has come, end and refund those past their end. Returns how many ended."""
    services.campaigns_start_due()
    return services.campaigns_end_due()
