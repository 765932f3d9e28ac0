"""Celery tasks: thin wrappers that load ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from shake import services
from shake.models import Win


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
def win_credit(win_id: int) -> bool:
    return services.win_credit(win_id=win_id)


def queue_win_credit(win: Win) -> None:
    """Queue the credit after the win commits (its pending state is committed with it,
    so a lost message is found again through `services.wins_pending`)."""
    win_credit.delay_on_commit(win.pk)


@shared_task(time_limit=300, soft_time_limit=280)
def end_campaigns() -> int:
    """The minute sweep (CELERY_BEAT_SCHEDULE): start the scheduled campaigns whose time
    has come, end and refund those past their end. Returns how many ended."""
    services.campaigns_start_due()
    return services.campaigns_end_due()
