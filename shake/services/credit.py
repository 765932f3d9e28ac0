"""入账 — credit a win from campaign escrow to the winner's change, exactly once."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from shake.models import Win
from wallet.crediting import credit_once
from wallet.models import Account, LedgerTransaction


def win_credit(*, win_id: int) -> bool:
    """Credit one win from campaign escrow, exactly once (reference "win:<id>"); returns
    whether this run credited it. Safe to run twice or concurrently."""
    return credit_once(
        Win,
        win_id,
        escrow=Account.Kind.CAMPAIGN_ESCROW,
        kind=LedgerTransaction.Kind.WIN_CREDIT,
        reference_prefix="win",
        event=lambda pk, _link: {"source": "shake", "win_id": pk},
    )


def wins_pending(older_than: timedelta) -> QuerySet[Win]:
    """Wins still waiting for their credit after `older_than`, oldest first: what a
    credit sweeper re-queues (`shake.tasks.win_credit.delay(win.pk)`)."""
    return Win.objects.filter(
        credit_status=Win.CreditStatus.PENDING, created_at__lte=timezone.now() - older_than
    ).order_by("created_at")
