"""The 服务通知 read marker."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Greatest
from django.utils import timezone

from redpacket.accounts.models import User
from wallet.models import NoticesSeen


def notices_mark_seen(*, user: User, up_to_entry_id: int) -> None:
    """The user has seen their notices up to `up_to_entry_id` (the 服务通知 page showed
    them). The marker only moves forward, in one statement: an older tab's visit never
    brings back a badge the user cleared since."""
    if up_to_entry_id <= 0:
        return

    def advance() -> int:
        return NoticesSeen.objects.filter(user=user).update(
            up_to_entry_id=Greatest("up_to_entry_id", Value(up_to_entry_id)),
            seen_at=timezone.now(),
        )

    if advance():
        return
    try:
        with transaction.atomic():
            NoticesSeen.objects.create(user=user, up_to_entry_id=up_to_entry_id)
    except IntegrityError:  # created meanwhile by another tab
        advance()
