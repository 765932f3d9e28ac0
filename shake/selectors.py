"""Shake reads shared by the API, the pages and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from redpacket.accounts.selectors import user_data
from shake import facts
from shake.errors import CampaignNotFound, WinNotFound
from shake.models import Campaign, Win
from shake.store import StateView, campaign_store
from wallet import received
from wallet.notices import NoticeLink
from wallet.rules import credit_state_line

if TYPE_CHECKING:
    from redpacket.accounts.models import User


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


def _win_row(win: Win) -> dict[str, Any]:
    campaign = win.campaign
    return {
        "source": "shake",
        "packet_id": None,
        "win_id": win.pk,
        "kind": "shake",
        "sender": user_data(campaign.sponsor),
        "greeting": campaign.greeting,
        "amount_fen": win.amount_fen,
        "opened_at": win.created_at,
        "best_luck": False,
        "result_url": reverse("shake:win", args=[win.pk]),
    }


def win_entries(*, user_id: int, start: datetime, end: datetime) -> QuerySet[Any]:
    """`wallet.received`'s entries for shake wins (SPEC §5: a win is a packet of the
    user's, in 我的红包 and its totals): the user's wins in [start, end)."""
    return received.entries_of(
        Win.objects.filter(user_id=user_id, created_at__gte=start, created_at__lt=end),
        source="shake",
        at="created_at",
    )


def win_rows(win_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`wallet.received`'s rows for shake wins: sponsor, greeting, amount, result link."""
    wins = Win.objects.filter(pk__in=win_ids).select_related("campaign__sponsor")
    return {win.pk: _win_row(win) for win in wins}


received.received_source_register(
    received.ReceivedSource(name="shake", entries=win_entries, rows=win_rows)
)


def win_result(*, user: User, win_id: int) -> dict[str, Any]:
    """A win's result page (SPEC §5): sponsor, greeting, amount and the credit line —
    "入账中…" until the win is credited, then "已存入零钱，可用于…". Only its winner
    sees it (anyone else: not found)."""
    win = Win.objects.select_related("campaign__sponsor").filter(pk=win_id, user=user).first()
    if win is None:
        raise WinNotFound()
    credited = win.credit_status == Win.CreditStatus.CREDITED
    return {
        **_win_row(win),
        "campaign_name": win.campaign.name,
        "credited": credited,
        "credit_line": credit_state_line(credited=credited, seed=win.pk),
    }


__all__ = [
    "BudgetView",
    "Remaining",
    "campaign_budget_view",
    "campaign_for_page",
    "campaign_remaining",
    "campaign_status",
    "campaigns_running",
    "win_entries",
    "win_result",
    "win_rows",
]


def win_notice_links(references: list[str]) -> dict[str, NoticeLink]:
    """A credited win's 服务通知 ("win:<id>", `win_credit`'s reference) links to the
    win's result page."""
    ids: dict[int, str] = {}
    for reference in references:
        head, _sep, rest = reference.partition(":")
        if head == "win" and rest.isdigit():
            ids[int(rest)] = reference
    return {
        reference: NoticeLink(url=reverse("shake:win", args=[pk]), win_id=pk)
        for pk, reference in ids.items()
    }
