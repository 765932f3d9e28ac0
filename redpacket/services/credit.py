"""入账 — credit a claim from packet escrow to the receiver's change, exactly once."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from chat.events import publish_on_commit, user_group
from redpacket.models import Claim
from wallet import services as wallet
from wallet.models import Account, LedgerTransaction
from wallet.selectors import balance_of


def claim_credit(*, claim_id: int) -> bool:
    """Credit one claim. Safe to run twice or concurrently: the claim's row lock orders
    the runs and the ledger reference "claim:<id>" admits one movement. Returns whether
    this run credited it. After commit, `wallet.credited` goes to the receiver."""
    with transaction.atomic():
        claim = (
            Claim.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=claim_id)
            .first()
        )
        if claim is None or claim.credit_status == Claim.CreditStatus.CREDITED:
            return False
        txn, _created = wallet.wallet_credit_from_escrow(
            user=claim.user,
            escrow=Account.Kind.PACKET_ESCROW,
            amount_fen=claim.amount_fen,
            reference=f"claim:{claim.pk}",
            kind=LedgerTransaction.Kind.CLAIM_CREDIT,
        )
        claim.credit_status = Claim.CreditStatus.CREDITED
        claim.credited_at = timezone.now()
        claim.save(update_fields=["credit_status", "credited_at"])
        # The balance the ledger just wrote (one read less); a movement posted earlier
        # (created False) carries none, so read it then.
        balance = getattr(txn, "balance_after_by_user", {}).get(claim.user_id)
        if balance is None:
            balance = balance_of(claim.user)
        publish_on_commit(
            user_group(claim.user_id),
            {"type": "wallet.credited", "amount_fen": claim.amount_fen, "balance_fen": balance},
        )
    return True


def claims_pending(*, older_than: timedelta) -> QuerySet[Claim]:
    """Claims whose credit is still pending after `older_than` (largest first): the
    broker lost their message, or a worker died holding it."""
    return Claim.objects.filter(
        credit_status=Claim.CreditStatus.PENDING, opened_at__lt=timezone.now() - older_than
    ).order_by("-amount_fen", "pk")
