"""入账 — credit a claim from packet escrow to the receiver's change, exactly once."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from redpacket.packets.models import Claim
from wallet.crediting import credit_once
from wallet.models import Account, LedgerTransaction


def claim_credit(*, claim_id: int) -> bool:
    """Credit one claim from packet escrow, exactly once (reference "claim:<id>");
    returns whether this run credited it. Safe to run twice or concurrently."""
    return credit_once(
        Claim,
        claim_id,
        escrow=Account.Kind.PACKET_ESCROW,
        kind=LedgerTransaction.Kind.CLAIM_CREDIT,
        reference_prefix="claim",
        event=lambda _pk, packet_id: {"source": "claim", "packet_id": packet_id},
        link_field="packet",
    )


def claims_pending(*, older_than: timedelta) -> QuerySet[Claim]:
    """Claims whose credit is still pending after `older_than` (largest first): the
    broker lost their message, or a worker died holding it."""
    return Claim.objects.filter(
        credit_status=Claim.CreditStatus.PENDING, opened_at__lt=timezone.now() - older_than
    ).order_by("-amount_fen", "pk")
