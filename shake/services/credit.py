"""入账 — credit wins from campaign escrow to the winners' change, exactly once."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from shake.models import Win
from wallet import crediting
from wallet.models import Account, LedgerTransaction


def win_credit(*, win_id: int) -> bool:
    """Credit one win from campaign escrow, exactly once (reference "win:<id>"); returns
    whether this run credited it. Safe to run twice or concurrently."""
    return crediting.credit_batch(crediting.credit_source_of(Win), ids=[win_id]) > 0


def wins_pending(older_than: timedelta) -> QuerySet[Win]:
    """Wins still waiting for their credit after `older_than`, oldest first: what the
    credit sweeper looks for (a lost wake-up, a worker that died holding them)."""
    return Win.objects.filter(
        credit_status=Win.CreditStatus.PENDING, created_at__lte=timezone.now() - older_than
    ).order_by("created_at")


WINS = crediting.CreditSource(
    model=Win,
    pending=wins_pending,
    escrow=Account.Kind.CAMPAIGN_ESCROW,
    kind=LedgerTransaction.Kind.WIN_CREDIT,
    reference_prefix="win",
    event=lambda pk, _link: {"source": "shake", "win_id": pk},
)
