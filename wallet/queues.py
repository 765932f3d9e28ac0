"""Queueing credits by size (大额优先): one rule for claims and shake wins alike.

Celery message priorities mean opposite things per broker: on RabbitMQ 9 is the most
urgent, on Redis (kombu's emulation, one list per level) 0 is. Callers speak in urgency
(5 = ordinary … 9 = largest shares) and this module translates."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from django.conf import settings


def urgency_for_amount(amount_fen: int) -> int:
    """5 for small amounts, one more per threshold reached (CREDIT_PRIORITY_THRESHOLDS_FEN)."""
    return 5 + bisect_right(sorted(settings.CREDIT_PRIORITY_THRESHOLDS_FEN), amount_fen)


def broker_priority(urgency: int) -> int:
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return 9 - urgency
    return urgency


def queue_credit(task: Any, object_id: int, amount_fen: int, *, on_commit: bool = True) -> None:
    """Queue `task(object_id)` with the priority its amount deserves — after the current
    transaction commits (the default), or now (the sweeper, outside any transaction)."""
    priority = broker_priority(urgency_for_amount(amount_fen))
    if on_commit:
        task.apply_async_on_commit((object_id,), priority=priority)
    else:
        task.apply_async((object_id,), priority=priority)
