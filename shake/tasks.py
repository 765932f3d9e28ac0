"""Celery tasks: thin wrappers that load ids and call a service."""

from __future__ import annotations

from celery import shared_task

from redpacket.core.queues import queue_credit
from redpacket.tasks import CREDIT_TASK_OPTIONS
from shake import services
from shake.models import Win


@shared_task(**CREDIT_TASK_OPTIONS)
def win_credit(win_id: int) -> bool:
    return services.win_credit(win_id=win_id)


def queue_win_credit(win: Win) -> None:
    """Queue the credit once the win commits, larger wins first (the pending state is
    committed with the win, so the credit sweeper finds a lost message again)."""
    queue_credit(win_credit, win.pk, win.amount_fen)


@shared_task(time_limit=300, soft_time_limit=280)
def end_campaigns() -> int:
    """The minute sweep (CELERY_BEAT_SCHEDULE): start the scheduled campaigns whose time
    has come, end and refund those past their end. Returns how many ended."""
    services.campaigns_start_due()
    return services.campaigns_end_due()
