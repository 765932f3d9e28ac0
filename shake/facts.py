"""A campaign's terms (facts) and its fast state, kept warm in the campaign store (Redis
or in-process) so a shake that does not win needs no SQL. Both are rebuilt from the
database when missing (a flushed or restarted Redis)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from django.db.models import Count

from redpacket.accounts.selectors import user_data
from shake.draw import TierRange
from shake.errors import CampaignNotFound
from shake.models import Campaign, Win
from shake.store import campaign_store

# Keys outlive their campaign by this much, then Redis forgets them.
GRACE = timedelta(days=1)
# Facts are re-read from the database this often at most (every change also drops them).
FACTS_TTL_MS = 60_000


class CampaignFacts(TypedDict):
    """A campaign's terms as cached (JSON: `sk:{id}:facts`) and passed around (JSON-ready)."""

    id: int
    name: str
    greeting: str
    sponsor: dict[str, Any]  # accounts.selectors.user_data
    status: str  # Campaign.Status
    end_reason: str  # Campaign.EndReason, "" while not ended
    starts_ms: int  # epoch milliseconds
    ends_ms: int
    count: int
    min_share_fen: int
    per_user_cap: int
    win_chance_ppm: int
    tiers: list[list[int]]  # [pk, probability_ppm, min_fen, max_fen], the table as given


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def expire_at_ms(campaign: Campaign) -> int:
    return _ms(campaign.ends_at + GRACE)


def facts_of(campaign: Campaign) -> CampaignFacts:
    """What the shake path and the pages need to know about a campaign (JSON-ready)."""
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "greeting": campaign.greeting,
        "sponsor": user_data(campaign.sponsor),
        "status": campaign.status,
        "end_reason": campaign.end_reason,
        "starts_ms": _ms(campaign.starts_at),
        "ends_ms": _ms(campaign.ends_at),
        "count": campaign.count,
        "min_share_fen": campaign.min_share_fen,
        "per_user_cap": campaign.per_user_cap,
        "win_chance_ppm": campaign.win_chance_ppm,
        "tiers": [
            [tier.pk, tier.probability_ppm, tier.min_fen, tier.max_fen]
            for tier in campaign.tiers.order_by("pk")  # the table as given: rolls map onto it
        ],
    }


def tier_table(facts: CampaignFacts) -> list[TierRange]:
    return [TierRange(ppm, low, high) for _pk, ppm, low, high in facts["tiers"]]


def from_store(raw: dict[str, Any] | None) -> CampaignFacts | None:
    """What the campaign store gives back for the facts (its signatures speak of plain
    dicts): only `warm` puts facts there, so they are `CampaignFacts`."""
    return cast("CampaignFacts | None", raw)


def load(campaign_id: int) -> CampaignFacts:
    """The campaign's facts: cached, or read from the database and cached."""
    store = campaign_store()
    cached = from_store(store.facts(campaign_id))
    if cached is not None:
        return cached
    campaign = Campaign.objects.select_related("sponsor").filter(pk=campaign_id).first()
    if campaign is None:
        raise CampaignNotFound()
    return warm(campaign)


def warm(campaign: Campaign) -> CampaignFacts:
    """Cache the facts and make sure the fast state exists; returns the facts."""
    facts = facts_of(campaign)
    # A TypedDict is a plain dict at run time; the store's signature asks for one.
    campaign_store().put_facts(campaign.pk, cast("dict[str, Any]", facts), FACTS_TTL_MS)
    build_state(campaign)
    return facts


def build_state(campaign: Campaign) -> bool:
    """(Re)build the fast state from the database: packets and budget left, each user's
    wins, closed once ended (a sold-out campaign is not closed: it answers "sold out"
    until its end time). Safe to race: only the first rebuild writes."""
    user_wins = dict(
        Win.objects.filter(campaign=campaign)
        .values("user_id")
        .annotate(n=Count("pk"))
        .values_list("user_id", "n")
    )
    campaign.refresh_from_db(
        fields=["status", "end_reason", "won_count", "spent_fen", "refunded_fen", "ends_at"]
    )
    ended = campaign.status == Campaign.Status.ENDED
    closed = ended and campaign.end_reason != Campaign.EndReason.SOLD_OUT
    return campaign_store().build(
        campaign.pk,
        left=0 if ended else campaign.count - campaign.won_count,
        budget_fen=campaign.unspent_fen,
        count=campaign.count,
        closed=closed,
        user_wins=user_wins,
        expire_at_ms=expire_at_ms(campaign),
        epoch=secrets.token_hex(6),
    )


def forget(campaign_id: int) -> None:
    """Drop cached facts after a change; the next reader rebuilds them."""
    campaign_store().drop_facts(campaign_id)
