"""A campaign's fast state for the shake path (ARCHITECTURE "Redis keys": `sk:{<id>}:…`).

One shake is ONE atomic step here (a Lua script on Redis): check the window and whether
the campaign was closed, whether packets are left, the caller's win cap, the pace line,
the win chance, then pick the first candidate payout that fits the unspent budget and
reserve it (one packet, its amount, one win of the caller). The database then records
the win under the campaign's row lock as the truth; a reservation it refuses is given
back here. Randomness never comes from Lua: Python draws the candidates and the chance
roll with `secrets` and passes them in.

Keys of campaign <id> share the hash tag `{<id>}` so a Redis Cluster keeps them on one
node: `sk:{id}:state` (hash: left, budget, count, closed, epoch, expire_at),
`sk:{id}:users` (hash: user → wins reserved), `sk:{id}:facts` (the campaign's terms and
tier table, JSON), `sk:{id}:shown` (the remaining count users see, "n|as_of"). They
expire a day after the campaign ends; state and users are rebuilt from the database when
missing with an atomic check-and-set, and every rebuild gets a new `epoch`, so a
reservation made before a flush is never "given back" into the state rebuilt after it.

Overload protection lives here too: `sk:inflight` (sorted set of in-flight shake tokens
scored by start time, so a crashed worker's token ages out) bounds the shakes in flight,
and `sk:rate:<user>` (SET NX PX) one shake per user per interval.

Without Redis (the embedded default) an in-process store gives the same answers to the
one process there is, under one lock.
"""

from __future__ import annotations

import enum
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from django.conf import settings

from shake.draw import Candidate, choose

# A token older than this is a shake whose worker died: it no longer counts as in flight.
INFLIGHT_STALE_MS = 10_000
# Users' reserved wins are loaded into a rebuilt state in chunks of this many.
BUILD_CHUNK = 2_000


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


def _keys(campaign_id: int) -> tuple[str, str, str, str]:
    tag = f"sk:{{{int(campaign_id)}}}"
    return f"{tag}:state", f"{tag}:users", f"{tag}:facts", f"{tag}:shown"


INFLIGHT_KEY = "sk:inflight"


def _rate_key(user_id: int) -> str:
    return f"sk:rate:{int(user_id)}"


# KEYS: inflight. ARGV: now_ms, token, limit, stale_ms.
_ENTER = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[4]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: state, users. ARGV: now_ms, user, starts_ms, ends_ms, allowed, per_user_cap,
# min_share, chance_roll, win_chance_ppm, then (min_fen, amount_fen) per candidate.
# The payout rule is shake.draw.choose, spelled in Lua.
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local state = redis.call('HMGET', KEYS[1],
  'left', 'budget', 'count', 'closed', 'epoch', 'expire_at')
if state[4] == '1' then return {'over'} end
local now = tonumber(ARGV[1])
if now < tonumber(ARGV[3]) or now >= tonumber(ARGV[4]) then return {'over'} end
local left = tonumber(state[1])
if left <= 0 then return {'sold_out'} end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if mine >= tonumber(ARGV[6]) then return {'limit_reached'} end
if tonumber(state[3]) - left >= tonumber(ARGV[5]) then return {'no_luck'} end
if tonumber(ARGV[8]) >= tonumber(ARGV[9]) then return {'no_luck'} end
local min_share = tonumber(ARGV[7])
local fit = tonumber(state[2]) - (left - 1) * min_share
if fit < min_share then return {'sold_out'} end
local amount = min_share
local pick = ''
for i = 10, #ARGV, 2 do
  local low = tonumber(ARGV[i])
  local drawn = tonumber(ARGV[i + 1])
  if drawn <= fit then amount = drawn; pick = tostring((i - 10) / 2); break end
  if low <= fit then amount = fit; pick = tostring((i - 10) / 2); break end
end
redis.call('HINCRBY', KEYS[1], 'left', -1)
redis.call('HINCRBY', KEYS[1], 'budget', -amount)
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('PEXPIREAT', KEYS[2], state[6])
return {'won', tostring(amount), pick, state[5]}
"""

# Give back (part of) a reservation the database refused, only into the state it was
# taken from (same epoch). ARGV: user, epoch, count, amount, user_wins ('' = minus one).
_GIVE_BACK = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return 0 end
local count = tonumber(ARGV[3])
if count > 0 then redis.call('HINCRBY', KEYS[1], 'left', count) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[1], 'budget', ARGV[4]) end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
elseif count > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], -count)
end
return 1
"""

# Rebuild from the database: atomic check-and-set, so of two concurrent rebuilds only
# the first writes. ARGV: left, budget, count, closed, epoch, expire_at_ms, then pairs.
_BUILD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'left', ARGV[1], 'budget', ARGV[2], 'count', ARGV[3],
  'closed', ARGV[4], 'epoch', ARGV[5], 'expire_at', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV >= 7 then redis.call('PEXPIREAT', KEYS[2], ARGV[6]) end
return 1
"""

# The rest of a large rebuild's users, into the same epoch only; a win reserved since
# the rebuild began is kept (the database catches what this undercounts).
_BUILD_MORE = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIREAT', KEYS[2], redis.call('HGET', KEYS[1], 'expire_at'))
return 1
"""

_SELL_OUT = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'left', 0) end
return 1
"""

_CLOSE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'closed', '1') end
return 1
"""

# The remaining count users see only ever goes down. ARGV: remaining, as_of, expire_at_ms.
_SHOW = """
local current = redis.call('GET', KEYS[1])
if current then
  local shown = tonumber(string.match(current, '^(%d+)|'))
  if shown and shown <= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
"""


def _text(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else raw


def _reserve_args(user_id: int, terms: ShakeTerms) -> list[Any]:
    args: list[Any] = [
        terms.now_ms,
        user_id,
        terms.starts_ms,
        terms.ends_ms,
        terms.allowed,
        terms.per_user_cap,
        terms.min_share_fen,
        terms.chance_roll,
        terms.win_chance_ppm,
    ]
    for candidate in terms.candidates:
        args += [candidate.min_fen, candidate.amount_fen]
    return args


class RedisCampaignStore:
    def __init__(self) -> None:
        from django_redis import get_redis_connection

        self.redis = get_redis_connection("default")
        self._enter = self.redis.register_script(_ENTER)
        self._reserve = self.redis.register_script(_RESERVE)
        self._give_back = self.redis.register_script(_GIVE_BACK)
        self._build = self.redis.register_script(_BUILD)
        self._build_more = self.redis.register_script(_BUILD_MORE)
        self._sell_out = self.redis.register_script(_SELL_OUT)
        self._close = self.redis.register_script(_CLOSE)
        self._show = self.redis.register_script(_SHOW)

    def enter(
        self, *, campaign_id: int, user_id: int, token: str, limit: int, interval_ms: int
    ) -> tuple[bool, dict[str, Any] | None]:
        # One round trip: the user's rate slot, an in-flight slot, the campaign's facts.
        now_ms = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        if interval_ms > 0:
            pipe.set(_rate_key(user_id), 1, nx=True, px=interval_ms)
        self._enter(
            keys=[INFLIGHT_KEY], args=[now_ms, token, limit, INFLIGHT_STALE_MS], client=pipe
        )
        pipe.get(_keys(campaign_id)[2])
        results = pipe.execute()
        rate_ok = bool(results[0]) if interval_ms > 0 else True
        slot_ok = bool(results[-2])
        if slot_ok and not rate_ok:
            self.leave(token)
        raw = results[-1]
        return rate_ok and slot_ok, json.loads(raw) if raw else None

    def leave(self, token: str) -> None:
        self.redis.zrem(INFLIGHT_KEY, token)

    def in_flight(self) -> int:
        return int(self.redis.zcard(INFLIGHT_KEY))

    def facts(self, campaign_id: int) -> dict[str, Any] | None:
        raw = self.redis.get(_keys(campaign_id)[2])
        return json.loads(raw) if raw else None

    def put_facts(self, campaign_id: int, facts: dict[str, Any], ttl_ms: int) -> None:
        self.redis.set(_keys(campaign_id)[2], json.dumps(facts), px=max(ttl_ms, 1000))

    def drop_facts(self, campaign_id: int) -> None:
        self.redis.delete(_keys(campaign_id)[2])

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
        keys = list(_keys(campaign_id)[:2])
        pairs = [(user, wins) for user, wins in user_wins.items() if wins > 0]
        args: list[Any] = [left, budget_fen, count, int(closed), epoch, expire_at_ms]
        for user, wins in pairs[:BUILD_CHUNK]:
            args += [user, wins]
        if not self._build(keys=keys, args=args):
            return False
        for start in range(BUILD_CHUNK, len(pairs), BUILD_CHUNK):
            more: list[Any] = [epoch]
            for user, wins in pairs[start : start + BUILD_CHUNK]:
                more += [user, wins]
            self._build_more(keys=keys, args=more)
        return True

    def reserve(self, campaign_id: int, user_id: int, terms: ShakeTerms) -> Reservation:
        answer = self._reserve(
            keys=list(_keys(campaign_id)[:2]), args=_reserve_args(user_id, terms)
        )
        parts = [_text(part) or "" for part in answer]
        outcome = Outcome(parts[0])
        if outcome is not Outcome.WON:
            return Reservation(outcome)
        return Reservation(
            Outcome.WON,
            amount_fen=int(parts[1]),
            candidate=int(parts[2]) if parts[2] != "" else None,
            epoch=parts[3],
        )

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
        return bool(
            self._give_back(
                keys=list(_keys(campaign_id)[:2]),
                args=[
                    user_id,
                    epoch,
                    count,
                    amount_fen,
                    "" if user_wins is None else user_wins,
                ],
            )
        )

    def sell_out(self, campaign_id: int) -> None:
        self._sell_out(keys=[_keys(campaign_id)[0]], args=[])

    def close(self, campaign_id: int) -> None:
        self._close(keys=[_keys(campaign_id)[0]], args=[])

    def peek(self, campaign_id: int) -> StateView | None:
        values = self.redis.hmget(
            _keys(campaign_id)[0], ["left", "budget", "count", "closed", "epoch"]
        )
        if values[0] is None:
            return None
        left, budget, count, closed, epoch = (_text(v) for v in values)
        return StateView(
            left=int(left or 0),
            budget_fen=int(budget or 0),
            count=int(count or 0),
            closed=closed == "1",
            epoch=epoch or "",
        )

    def show_remaining(
        self, campaign_id: int, remaining: int, as_of: str, expire_at_ms: int
    ) -> bool:
        return bool(self._show(keys=[_keys(campaign_id)[3]], args=[remaining, as_of, expire_at_ms]))

    def shown_remaining(self, campaign_id: int) -> tuple[int, str] | None:
        raw = _text(self.redis.get(_keys(campaign_id)[3]))
        if not raw:
            return None
        remaining, _, as_of = raw.partition("|")
        return int(remaining), as_of

    def forget(self, campaign_id: int) -> None:
        self.redis.delete(*_keys(campaign_id))

    def clear(self) -> None:
        """Nothing of its own to clear: the keys live in the cache's Redis database."""


@dataclass
class _LocalState:
    left: int
    budget: int
    count: int
    closed: bool
    epoch: str
    expire_at_ms: int
    users: dict[int, int]


class LocalCampaignStore:
    """The same answers for a single process (the embedded default), under one lock.
    The in-flight bound is a non-blocking semaphore: a counter checked and taken under
    the lock, read from the setting at each call (tests lower it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[int, _LocalState] = {}
        self._facts: dict[int, tuple[dict[str, Any], float]] = {}
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
        with self._lock:
            facts = self._live_facts(campaign_id, now)
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

    def _live_facts(self, campaign_id: int, now: float) -> dict[str, Any] | None:
        entry = self._facts.get(campaign_id)
        if entry is None or entry[1] < now:
            return None
        return json.loads(json.dumps(entry[0]))

    def facts(self, campaign_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._live_facts(campaign_id, time.monotonic())

    def put_facts(self, campaign_id: int, facts: dict[str, Any], ttl_ms: int) -> None:
        with self._lock:
            self._facts[campaign_id] = (
                json.loads(json.dumps(facts)),
                time.monotonic() + max(ttl_ms, 1000) / 1000,
            )

    def drop_facts(self, campaign_id: int) -> None:
        with self._lock:
            self._facts.pop(campaign_id, None)

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
            self._facts.pop(campaign_id, None)
            self._shown.pop(campaign_id, None)

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
            self._facts.clear()
            self._shown.clear()
            self._tokens.clear()
            self._last_shake.clear()


@cache
def campaign_store() -> CampaignStore:
    """The store for this process: Redis when REDIS_URL is set, else in-process."""
    return RedisCampaignStore() if settings.REDIS_URL else LocalCampaignStore()
