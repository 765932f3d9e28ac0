"""The campaign store on Redis: every step that must be atomic is one Lua script (`lua`),
every other read or write one command or one pipelined round trip.

Separate from the in-process store because nothing but the answers is shared: this one
turns Python arguments into script arguments and Redis replies back into `Reservation`s
and `StateView`s. The cached facts go through the kernel's JSON-facts helper, as the
packet gate's do.
"""

from __future__ import annotations

import time
from typing import Any

from redpacket.kernel.json_facts import RedisJsonFacts, decode
from redpacket.kernel.redis_cluster import queue_script
from shake.store import lua
from shake.store.base import (
    INFLIGHT_KEY,
    INFLIGHT_STALE_MS,
    CampaignFacts,
    Outcome,
    Reservation,
    ShakeTerms,
    StateView,
    campaign_keys,
    facts_key,
    rate_key,
)

# Users' reserved wins are loaded into a rebuilt state in chunks of this many.
BUILD_CHUNK = 2_000


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


class RedisCampaignStore(CampaignFacts):
    def __init__(self, redis: Any = None) -> None:
        """On the cache's Redis (a Redis Cluster with REDIS_CLUSTER=1), or on `redis`."""
        if redis is None:
            from django_redis import get_redis_connection

            redis = get_redis_connection("default")
        self.redis = redis
        self._enter = self.redis.register_script(lua.ENTER)
        self._reserve = self.redis.register_script(lua.RESERVE)
        self._give_back = self.redis.register_script(lua.GIVE_BACK)
        self._build = self.redis.register_script(lua.BUILD)
        self._build_more = self.redis.register_script(lua.BUILD_MORE)
        self._sell_out = self.redis.register_script(lua.SELL_OUT)
        self._close = self.redis.register_script(lua.CLOSE)
        self._show = self.redis.register_script(lua.SHOW)
        self._facts = RedisJsonFacts(self.redis)

    def enter(
        self, *, campaign_id: int, user_id: int, token: str, limit: int, interval_ms: int
    ) -> tuple[bool, dict[str, Any] | None]:
        # One round trip: the user's rate slot, an in-flight slot, the campaign's facts.
        now_ms = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        if interval_ms > 0:
            pipe.set(rate_key(user_id), 1, nx=True, px=interval_ms)
        queue_script(pipe, self._enter, [INFLIGHT_KEY], [now_ms, token, limit, INFLIGHT_STALE_MS])
        pipe.get(facts_key(campaign_id))
        results = pipe.execute()
        rate_ok = bool(results[0]) if interval_ms > 0 else True
        slot_ok = bool(results[-2])
        if slot_ok and not rate_ok:
            self.leave(token)
        return rate_ok and slot_ok, decode(results[-1])

    def leave(self, token: str) -> None:
        self.redis.zrem(INFLIGHT_KEY, token)

    def in_flight(self) -> int:
        return int(self.redis.zcard(INFLIGHT_KEY))

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
        keys = list(campaign_keys(campaign_id)[:2])
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
            keys=list(campaign_keys(campaign_id)[:2]), args=_reserve_args(user_id, terms)
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
                keys=list(campaign_keys(campaign_id)[:2]),
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
        self._sell_out(keys=[campaign_keys(campaign_id)[0]], args=[])

    def close(self, campaign_id: int) -> None:
        self._close(keys=[campaign_keys(campaign_id)[0]], args=[])

    def peek(self, campaign_id: int) -> StateView | None:
        values = self.redis.hmget(
            campaign_keys(campaign_id)[0], ["left", "budget", "count", "closed", "epoch"]
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
        return bool(
            self._show(keys=[campaign_keys(campaign_id)[3]], args=[remaining, as_of, expire_at_ms])
        )

    def shown_remaining(self, campaign_id: int) -> tuple[int, str] | None:
        raw = _text(self.redis.get(campaign_keys(campaign_id)[3]))
        if not raw:
            return None
        remaining, _, as_of = raw.partition("|")
        return int(remaining), as_of

    def forget(self, campaign_id: int) -> None:
        self.redis.delete(*campaign_keys(campaign_id))

    def clear(self) -> None:
        """Nothing of its own to clear: the keys live in the cache's Redis database."""
