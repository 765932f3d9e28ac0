"""What every campaign store answers, and the names of its keys.

Both stores (Redis, in-process) speak this vocabulary, so the services never ask which
one they hold. The key names live here, beside the protocol, because they are part of
what a store promises (ARCHITECTURE "Redis keys") and the in-process store keys its
cached facts the same way.

Keys of campaign <id> share the hash tag `{<id>}` so a Redis Cluster keeps them on one
node: `sk:{id}:state` (hash: left, budget, count, closed, epoch, expire_at),
`sk:{id}:users` (hash: user → wins reserved), `sk:{id}:facts` (the campaign's terms and
tier table, JSON), `sk:{id}:shown` (the remaining count users see, "n|as_of"). They
expire a day after the campaign ends; state and users are rebuilt from the database when
missing with an atomic check-and-set, and every rebuild gets a new `epoch`, so a
reservation made before a flush is never "given back" into the state rebuilt after it.

Overload protection lives in the store too: `sk:inflight` (sorted set of in-flight shake
tokens scored by start time, so a crashed worker's token ages out) bounds the shakes in
flight, and `sk:rate:<user>` (SET NX PX) one shake per user per interval.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from redpacket.kernel.json_facts import JsonFacts
from shake.draw import Candidate

# A token older than this is a shake whose worker died: it no longer counts as in flight.
INFLIGHT_STALE_MS = 10_000

INFLIGHT_KEY = "sk:inflight"


def campaign_keys(campaign_id: int) -> tuple[str, str, str, str]:
    """The campaign's state, users, facts and shown keys."""
    tag = f"sk:{{{int(campaign_id)}}}"
    return f"{tag}:state", f"{tag}:users", f"{tag}:facts", f"{tag}:shown"


def facts_key(campaign_id: int) -> str:
    return campaign_keys(campaign_id)[2]


def rate_key(user_id: int) -> str:
    return f"sk:rate:{int(user_id)}"


class Outcome(enum.StrEnum):
    WON = "won"
    NO_LUCK = "no_luck"
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"
    OVER = "over"
    MISSING = "missing"  # the state is gone: rebuild it from the database, then ask again


@dataclass(frozen=True)
class ShakeTerms:
    """Everything one reservation needs to decide, computed by the caller."""

    now_ms: int
    starts_ms: int
    ends_ms: int
    allowed: int  # wins the pace line allows by now (burst included)
    per_user_cap: int
    min_share_fen: int
    chance_roll: int  # uniform in [0, 1,000,000)
    win_chance_ppm: int
    candidates: Sequence[Candidate] = field(default_factory=list)


@dataclass(frozen=True)
class Reservation:
    outcome: Outcome
    amount_fen: int = 0
    candidate: int | None = None  # position in the candidates; None: the minimum share
    epoch: str = ""


@dataclass(frozen=True)
class StateView:
    """A campaign's fast state as it is now (admin's live view, tests)."""

    left: int
    budget_fen: int
    count: int
    closed: bool
    epoch: str


class CampaignFacts:
    """The campaign's cached facts, alike on both stores: the kernel's JSON facts with a
    TTL under `sk:{id}:facts`. A store sets `_facts` (Redis or in-process)."""

    _facts: JsonFacts

    def facts(self, campaign_id: int) -> dict[str, Any] | None:
        return self._facts.get(facts_key(campaign_id))

    def put_facts(self, campaign_id: int, facts: dict[str, Any], ttl_ms: int) -> None:
        self._facts.put(facts_key(campaign_id), facts, ttl_ms)

    def drop_facts(self, campaign_id: int) -> None:
        self._facts.drop(facts_key(campaign_id))


class CampaignStore(Protocol):
    def enter(
        self, *, campaign_id: int, user_id: int, token: str, limit: int, interval_ms: int
    ) -> tuple[bool, dict[str, Any] | None]: ...
    def leave(self, token: str) -> None: ...
    def in_flight(self) -> int: ...
    def facts(self, campaign_id: int) -> dict[str, Any] | None: ...
    def put_facts(self, campaign_id: int, facts: dict[str, Any], ttl_ms: int) -> None: ...
    def drop_facts(self, campaign_id: int) -> None: ...
    def build(
        self,
        campaign_id: int,
        *,
        left: int,
        budget_fen: int,
        count: int,
        closed: bool,
        user_wins: dict[int, int],
        expire_at_ms: int,
        epoch: str,
    ) -> bool: ...
    def reserve(self, campaign_id: int, user_id: int, terms: ShakeTerms) -> Reservation: ...
    def give_back(
        self,
        campaign_id: int,
        *,
        user_id: int,
        epoch: str,
        count: int,
        amount_fen: int,
        user_wins: int | None = None,
    ) -> bool: ...
    def sell_out(self, campaign_id: int) -> None: ...
    def close(self, campaign_id: int) -> None: ...
    def peek(self, campaign_id: int) -> StateView | None: ...
    def show_remaining(
        self, campaign_id: int, remaining: int, as_of: str, expire_at_ms: int
    ) -> bool: ...
    def shown_remaining(self, campaign_id: int) -> tuple[int, str] | None: ...
    def forget(self, campaign_id: int) -> None: ...
    def clear(self) -> None: ...
