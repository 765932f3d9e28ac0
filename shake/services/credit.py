"""入账 — credit a win from campaign escrow to the winner's change, exactly once."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chat.events import publish_on_commit, user_group
from shake.models import Win
from wallet import services as wallet
from wallet.models import Account, LedgerTransaction
from wallet.selectors import balance_of


def win_credit(*, win_id: int) -> bool:
    """Credit one win. Safe to run twice or concurrently: the win's row lock orders the
    runs and the ledger reference "win:<id>" admits one movement. Returns whether this
    run credited it. After commit, `wallet.credited` goes to the winner."""
    with transaction.atomic():
        win = Win.objects.select_for_update().select_related("user").filter(pk=win_id).first()
        if win is None or win.credit_status == Win.CreditStatus.CREDITED:
            return False
        wallet.wallet_credit_from_escrow(
            user=win.user,
            escrow=Account.Kind.CAMPAIGN_ESCROW,
            amount_fen=win.amount_fen,
            reference=f"win:{win.pk}",
            kind=LedgerTransaction.Kind.WIN_CREDIT,
        )
        win.credit_status = Win.CreditStatus.CREDITED
        win.credited_at = timezone.now()
        win.save(update_fields=["credit_status", "credited_at"])
        publish_on_commit(
            user_group(win.user_id),
            {
                "type": "wallet.credited",
                "amount_fen": win.amount_fen,
                "balance_fen": balance_of(win.user),
            },
        )
    return True


def wins_pending(older_than: timedelta) -> QuerySet[Win]:
    """Wins still waiting for their credit after `older_than`, oldest first: what a
    credit sweeper re-queues (`shake.tasks.win_credit.delay(win.pk)`)."""
    return Win.objects.filter(
        credit_status=Win.CreditStatus.PENDING, created_at__lte=timezone.now() - older_than
    ).order_by("created_at")
