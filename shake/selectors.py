"""Shake reads shared by the API, the pages and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from shake import facts
from shake.errors import CampaignNotFound
from shake.models import Campaign, Win
from shake.store import StateView, campaign_store
from wallet.notices import NoticeLink


def campaign_status(campaign: Campaign, now: datetime | None = None) -> str:
    """The status a client sees: by the clock, whatever the minute sweep has recorded yet
    (a campaign past its end time is "ended" even before its refund ran)."""
    now = now or timezone.now()
    if campaign.status == Campaign.Status.ENDED or now >= campaign.ends_at:
        return Campaign.Status.ENDED
    if now < campaign.starts_at:
        return Campaign.Status.SCHEDULED
    return Campaign.Status.RUNNING


def campaigns_running() -> QuerySet[Campaign]:
    """Campaigns one can shake at now, ending soonest first."""
    now = timezone.now()
    return (
        Campaign.objects.exclude(status=Campaign.Status.ENDED)
        .filter(starts_at__lte=now, ends_at__gt=now)
        .select_related("sponsor")
        .order_by("ends_at", "pk")
    )


def campaign_for_page(*, campaign_id: int) -> Campaign:
    campaign = Campaign.objects.select_related("sponsor").filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


@dataclass(frozen=True)
class Remaining:
    remaining: int
    as_of: datetime


def campaign_remaining(*, campaign_id: int) -> Remaining:
    """The remaining count users see (SPEC §5): cached, refreshed only each time the true
    count drops by a step (a win that crosses a step writes it), so it may be up to one
    step high; 0 once the campaign is over. Read from the database only when the cache
    has nothing (first read, a flushed Redis)."""
    store = campaign_store()
    shown = store.shown_remaining(campaign_id)
    if shown is not None:
        return Remaining(shown[0], datetime.fromisoformat(shown[1]))
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignNotFound()
    now = timezone.now()
    over = campaign_status(campaign, now) == Campaign.Status.ENDED
    remaining = 0 if over else campaign.count - campaign.won_count
    store.show_remaining(campaign_id, remaining, now.isoformat(), facts.expire_at_ms(campaign))
    return Remaining(remaining, now)


@dataclass(frozen=True)
class BudgetView:
    """Admin's live view: what the database has paid and what the fast state has
    reserved (reserved − paid = wins in flight or reservations not yet given back)."""

    spent_fen: int
    reserved_fen: int | None  # None: no fast state (not warmed, or flushed)
    state: StateView | None


def campaign_budget_view(campaign: Campaign) -> BudgetView:
    state = campaign_store().peek(campaign.pk)
    reserved = None
    if state is not None:
        reserved = campaign.budget_fen - campaign.refunded_fen - state.budget_fen
    return BudgetView(spent_fen=campaign.spent_fen, reserved_fen=reserved, state=state)


__all__ = [
    "BudgetView",
    "Remaining",
    "campaign_budget_view",
    "campaign_for_page",
    "campaign_remaining",
    "campaign_status",
    "campaigns_running",
]


def win_notice_links(references: list[str]) -> dict[str, NoticeLink]:
    """A credited win's 服务通知 ("win:<id>", `win_credit`'s reference) links to its
    campaign's page."""
    ids: dict[int, str] = {}
    for reference in references:
        head, _sep, rest = reference.partition(":")
        if head == "win" and rest.isdigit():
            ids[int(rest)] = reference
    return {
        ids[pk]: NoticeLink(url=reverse("shake:campaign", args=[campaign_id]), win_id=pk)
        for pk, campaign_id in Win.objects.filter(pk__in=ids).values_list("pk", "campaign_id")
    }
