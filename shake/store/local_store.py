"""The campaign store in-process: the embedded default's (no REDIS_URL), for the one
process there is, under one lock.

It gives the answers the Lua scripts give on Redis, step for step, in plain Python; kept
apart from the Redis store because it shares none of its mechanics (dicts and a lock
instead of keys and scripts). The payout rule is `shake.draw.choose` itself, the
reference the Lua reservation is tested against. The cached facts go through the
kernel's JSON-facts helper, under the same key names as on Redis.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from redpacket.kernel.json_facts import LocalJsonFacts
from shake.draw import choose
from shake.store.base import (
    INFLIGHT_STALE_MS,
    CampaignFacts,
    Outcome,
    Reservation,
    ShakeTerms,
    StateView,
    facts_key,
)


@dataclass
class _LocalState:
    left: int
    budget: int
    count: int
    closed: bool
    epoch: str
    expire_at_ms: int
    users: dict[int, int]


class LocalCampaignStore(CampaignFacts):
    """The same answers for a single process (the embedded default), under one lock.
    The in-flight bound is a non-blocking semaphore: a counter checked and taken under
    the lock, read from the setting at each call (tests lower it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[int, _LocalState] = {}
        self._facts = LocalJsonFacts()
        self._shown: dict[int, tuple[int, str, int]] = {}
        self._tokens: dict[str, float] = {}
        self._last_shake: dict[int, float] = {}

    @staticmethod
    def _now_ms() -> int:
        return int(time.time() * 1000)

    def _state(self, campaign_id: int) -> _LocalState | None:
        state = self._states.get(campaign_id)
        if state is not None and state.expire_at_ms <= self._now_ms():
            del self._states[campaign_id]
            return None
        return state

    def enter(
        self, *, campaign_id: int, user_id: int, token: str, limit: int, interval_ms: int
    ) -> tuple[bool, dict[str, Any] | None]:
        now = time.monotonic()
        facts = self._facts.get(facts_key(campaign_id))
        with self._lock:
            if interval_ms > 0:
                last = self._last_shake.get(user_id)
                if last is not None and (now - last) * 1000 < interval_ms:
                    return False, facts
                self._last_shake[user_id] = now
            stale = now - INFLIGHT_STALE_MS / 1000
            for old in [t for t, started in self._tokens.items() if started < stale]:
                del self._tokens[old]
            if len(self._tokens) >= limit:
                return False, facts
            self._tokens[token] = now
            return True, facts

    def leave(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._tokens)

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
    ) -> bool:
        with self._lock:
            if self._state(campaign_id) is not None:
                return False
            self._states[campaign_id] = _LocalState(
                left=left,
                budget=budget_fen,
                count=count,
                closed=closed,
                epoch=epoch,
                expire_at_ms=expire_at_ms,
                users={user: wins for user, wins in user_wins.items() if wins > 0},
            )
            return True

    def reserve(self, campaign_id: int, user_id: int, terms: ShakeTerms) -> Reservation:
        with self._lock:
            state = self._state(campaign_id)
            if state is None:
                return Reservation(Outcome.MISSING)
            if state.closed or not terms.starts_ms <= terms.now_ms < terms.ends_ms:
                return Reservation(Outcome.OVER)
            if state.left <= 0:
                return Reservation(Outcome.SOLD_OUT)
            if state.users.get(user_id, 0) >= terms.per_user_cap:
                return Reservation(Outcome.LIMIT_REACHED)
            if state.count - state.left >= terms.allowed:
                return Reservation(Outcome.NO_LUCK)
            if terms.chance_roll >= terms.win_chance_ppm:
                return Reservation(Outcome.NO_LUCK)
            fit = state.budget - (state.left - 1) * terms.min_share_fen
            picked = choose(terms.candidates, fit_fen=fit, min_share_fen=terms.min_share_fen)
            if picked is None:
                return Reservation(Outcome.SOLD_OUT)
            tier_index, amount = picked
            position = next(
                (i for i, c in enumerate(terms.candidates) if c.index == tier_index), None
            )
            state.left -= 1
            state.budget -= amount
            state.users[user_id] = state.users.get(user_id, 0) + 1
            return Reservation(Outcome.WON, amount, position, state.epoch)

    def give_back(
        self,
        campaign_id: int,
        *,
        user_id: int,
        epoch: str,
        count: int,
        amount_fen: int,
        user_wins: int | None = None,
    ) -> bool:
        with self._lock:
            state = self._state(campaign_id)
            if state is None or state.epoch != epoch:
                return False
            state.left += max(count, 0)
            state.budget += max(amount_fen, 0)
            if user_wins is not None:
                state.users[user_id] = user_wins
            elif count > 0:
                state.users[user_id] = state.users.get(user_id, 0) - count
            return True

    def sell_out(self, campaign_id: int) -> None:
        with self._lock:
            state = self._state(campaign_id)
            if state is not None:
                state.left = 0

    def close(self, campaign_id: int) -> None:
        with self._lock:
            state = self._state(campaign_id)
            if state is not None:
                state.closed = True

    def peek(self, campaign_id: int) -> StateView | None:
        with self._lock:
            state = self._state(campaign_id)
            if state is None:
                return None
            return StateView(state.left, state.budget, state.count, state.closed, state.epoch)

    def show_remaining(
        self, campaign_id: int, remaining: int, as_of: str, expire_at_ms: int
    ) -> bool:
        with self._lock:
            current = self._shown.get(campaign_id)
            if current is not None and current[2] > self._now_ms() and current[0] <= remaining:
                return False
            self._shown[campaign_id] = (remaining, as_of, expire_at_ms)
            return True

    def shown_remaining(self, campaign_id: int) -> tuple[int, str] | None:
        with self._lock:
            current = self._shown.get(campaign_id)
            if current is None or current[2] <= self._now_ms():
                return None
            return current[0], current[1]

    def forget(self, campaign_id: int) -> None:
        with self._lock:
            self._states.pop(campaign_id, None)
            self._shown.pop(campaign_id, None)
        self._facts.drop(facts_key(campaign_id))

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
            self._shown.clear()
            self._tokens.clear()
            self._last_shake.clear()
        self._facts.clear()
