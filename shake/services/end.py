"""A campaign's end (time passed, sold out, or an operator): the unspent budget returns
to the sponsor exactly once, as a packet's expiry refund does (ARCHITECTURE "Expire")."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from redpacket.accounts.models import User
from shake import facts
from shake.models import Campaign
from shake.store import campaign_store
from wallet import services as wallet
from wallet.models import Account, LedgerTransaction


def end_locked(
    *, campaign: Campaign, reason: str, now: datetime, actor: User | None = None
) -> None:
    """End a campaign whose row the caller holds locked (inside its transaction): refund
    the unspent budget (reference "campaign:<id>:refund", so never twice), mark it ended.
    After commit the fast state stops answering: closed, or sold out for a sell-out."""
    refund = campaign.budget_fen - campaign.spent_fen
    if refund:
        wallet.wallet_credit_from_escrow(
            user=campaign.sponsor,
            escrow=Account.Kind.CAMPAIGN_ESCROW,
            amount_fen=refund,
            reference=f"campaign:{campaign.pk}:refund",
            kind=LedgerTransaction.Kind.CAMPAIGN_REFUND,
            actor=actor,
        )
    campaign.refunded_fen = refund
    campaign.status = Campaign.Status.ENDED
    campaign.end_reason = reason
    campaign.ended_at = now
    campaign.save(update_fields=["refunded_fen", "status", "end_reason", "ended_at"])
    campaign_id = campaign.pk
    store = campaign_store()
    if reason == Campaign.EndReason.SOLD_OUT:
        transaction.on_commit(lambda: store.sell_out(campaign_id))
    else:
        transaction.on_commit(lambda: store.close(campaign_id))
    transaction.on_commit(lambda: facts.forget(campaign_id))
    expire_at = facts.expire_at_ms(campaign)
    transaction.on_commit(lambda: store.show_remaining(campaign_id, 0, now.isoformat(), expire_at))


def campaign_end(*, campaign_id: int, force: bool = False, actor: User | None = None) -> bool:
    """End one campaign: past its end time, or now when `force` (the operators' action;
    the refund's ledger transaction records its `actor`).
    The sweep skips a row another transaction holds (SKIP LOCKED: it is busy recording a
    win or being ended); an operator waits for it. Returns whether this call ended it."""
    now = timezone.now()
    with transaction.atomic():
        open_campaigns = (
            Campaign.objects.select_for_update(skip_locked=not force)
            .filter(pk=campaign_id)
            .exclude(status=Campaign.Status.ENDED)
        )
        if not force:
            open_campaigns = open_campaigns.filter(ends_at__lte=now)
        campaign = open_campaigns.first()
        if campaign is None:
            return False
        reason = Campaign.EndReason.OPERATOR if campaign.ends_at > now else Campaign.EndReason.TIME
        end_locked(campaign=campaign, reason=reason, now=now, actor=actor)
    return True


def campaigns_end_due(*, limit: int = 1000) -> int:
    """The sweep: end every campaign past its end time, each in its own transaction.
    Returns how many this call ended."""
    due = Campaign.objects.exclude(status=Campaign.Status.ENDED).filter(ends_at__lte=timezone.now())
    done = 0
    for campaign_id in due.order_by("ends_at").values_list("pk", flat=True)[:limit]:
        done += campaign_end(campaign_id=campaign_id)
    return done
