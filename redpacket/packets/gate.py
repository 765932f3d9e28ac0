"""The packet gate and the packet's cached facts (ARCHITECTURE "Grab", "Open", "Redis keys").

The gate admits at most `left` users to the open transaction, each user at most once, in
one atomic step (a Lua script on Redis). It keeps the crowd away from the packet's row
lock: the database sees at most `count` open transactions per packet. The gate is a
filter, the database is the truth — an admitted user may still find the packet finished.

All keys of a packet share the hash tag `{<id>}` so a Redis Cluster keeps them on one
node: `rp:{id}:left` (places the gate may still give), `rp:{id}:who` (user → "" once
admitted, → amount once opened), `rp:{id}:facts` (the packet's display facts, JSON).
Every key expires a while after its packet does; any of them is rebuilt from the
database when missing (a flushed or restarted Redis). Without Redis (the embedded
default) an in-process store gives the same answers to the one process there is. The
facts are kept by the kernel's JSON-facts helper, which the campaign store shares.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.conf import settings

from redpacket.kernel.json_facts import LocalJsonFacts, RedisJsonFacts, decode

if TYPE_CHECKING:
    from redpacket.packets.facts import PacketFacts


class Admission(enum.StrEnum):
    ADMITTED = "admitted"
    ALREADY = "already"
    FINISHED = "finished"
    MISSING = "missing"  # the gate's keys are gone: rebuild from the database, then ask again


@dataclass(frozen=True)
class Snapshot:
    """What the grab check needs, read in one round trip."""

    facts: PacketFacts | None  # None: not cached
    left: int | None  # None: the gate is missing
    my_amount: int | None  # the caller's share once opened
    admitted: bool = False  # the gate has let the caller in (opened, or opening now)


@dataclass(frozen=True)
class PacketState:
    """What every viewer's grab check needs, for all viewers at once (the fan-out)."""

    facts: PacketFacts | None
    left: int | None
    shares: dict[int, int | None]  # admitted user → share (None until opened)

    def snapshot_for(self, user_id: int) -> Snapshot:
        live = self.left is not None
        return Snapshot(
            facts=self.facts,
            left=self.left,
            my_amount=self.shares.get(user_id) if live else None,
            admitted=live and user_id in self.shares,
        )


class PacketStore(Protocol):
    def snapshot(self, packet_id: int, user_id: int) -> Snapshot: ...
    def state(self, packet_id: int) -> PacketState: ...
    def put_facts(self, packet_id: int, facts: PacketFacts, ttl_ms: int) -> None: ...
    def drop_facts(self, packet_id: int) -> None: ...
    def build_gate(
        self, packet_id: int, left: int, opened: dict[int, int], ttl_ms: int
    ) -> bool: ...
    def admit(self, packet_id: int, user_id: int) -> Admission: ...
    def release(self, packet_id: int, user_id: int) -> None: ...
    def record(self, packet_id: int, user_id: int, amount_fen: int) -> None: ...
    def restore(self, packet_id: int, user_id: int, amount_fen: int) -> None: ...
    def close(self, packet_id: int) -> None: ...
    def clear(self) -> None: ...


def _packet_facts(found: dict[str, Any] | None) -> PacketFacts | None:
    """Facts as stored: written only by `put_facts`, so they have its shape."""
    return cast("PacketFacts | None", found)


def _keys(packet_id: int) -> tuple[str, str, str]:
    tag = f"rp:{{{packet_id}}}"
    return f"{tag}:left", f"{tag}:who", f"{tag}:facts"


# KEYS: left, who. ARGV: user.
_ADMIT = """
local left = redis.call('GET', KEYS[1])
if not left then return 'missing' end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'already' end
if tonumber(left) <= 0 then return 'finished' end
redis.call('DECR', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], '')
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 'admitted'
"""

# A failed open gives its place back (only if it was admitted and never opened).
_RELEASE = """
if redis.call('HGET', KEYS[2], ARGV[1]) == '' then
  redis.call('HDEL', KEYS[2], ARGV[1])
  if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCR', KEYS[1]) end
end
return 1
"""

# An open committed: remember the share (never re-creates a vanished gate).
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return 1
"""

# Admitted a user who already had a share (a gate rebuilt from an older read): the place
# was not used, give it back, and remember the share.
_RESTORE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], ARGV[1]) == '' then redis.call('INCR', KEYS[1]) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

_CLOSE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return 1
"""

# Rebuild from the database. Atomic check-and-set: of two concurrent rebuilds only the
# first writes; the second finds the gate there and leaves it alone.
# ARGV: left, ttl_ms, then user, amount pairs.
_BUILD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV >= 3 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
"""


def _amount(raw: bytes | str | None) -> int | None:
    if raw in (None, b"", ""):
        return None
    return int(raw)


class RedisPacketStore:
    def __init__(self, redis: Any = None) -> None:
        """On the cache's Redis (a Redis Cluster with REDIS_CLUSTER=1), or on `redis`."""
        if redis is None:
            from django_redis import get_redis_connection

            redis = get_redis_connection("default")
        self.redis = redis
        self._admit = self.redis.register_script(_ADMIT)
        self._release = self.redis.register_script(_RELEASE)
        self._record = self.redis.register_script(_RECORD)
        self._restore = self.redis.register_script(_RESTORE)
        self._close = self.redis.register_script(_CLOSE)
        self._build = self.redis.register_script(_BUILD)
        self._facts = RedisJsonFacts(self.redis)

    def snapshot(self, packet_id: int, user_id: int) -> Snapshot:
        left_key, who_key, facts_key = _keys(packet_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(facts_key)
        pipe.get(left_key)
        pipe.hget(who_key, str(user_id))
        facts, left, mine = pipe.execute()
        return Snapshot(
            facts=_packet_facts(decode(facts)),
            left=int(left) if left is not None else None,
            my_amount=_amount(mine),
            admitted=left is not None and mine is not None,
        )

    def state(self, packet_id: int) -> PacketState:
        left_key, who_key, facts_key = _keys(packet_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(facts_key)
        pipe.get(left_key)
        pipe.hgetall(who_key)
        facts, left, who = pipe.execute()
        return PacketState(
            facts=_packet_facts(decode(facts)),
            left=int(left) if left is not None else None,
            shares={int(user): _amount(amount) for user, amount in who.items()},
        )

    def put_facts(self, packet_id: int, facts: PacketFacts, ttl_ms: int) -> None:
        self._facts.put(_keys(packet_id)[2], facts, ttl_ms)

    def drop_facts(self, packet_id: int) -> None:
        self._facts.drop(_keys(packet_id)[2])

    def build_gate(self, packet_id: int, left: int, opened: dict[int, int], ttl_ms: int) -> bool:
        args: list[Any] = [left, max(ttl_ms, 1000)]
        for user_id, amount in opened.items():
            args += [user_id, amount]
        return bool(self._build(keys=list(_keys(packet_id)[:2]), args=args))

    def admit(self, packet_id: int, user_id: int) -> Admission:
        answer = self._admit(keys=list(_keys(packet_id)[:2]), args=[user_id])
        return Admission(answer.decode() if isinstance(answer, bytes) else answer)

    def release(self, packet_id: int, user_id: int) -> None:
        self._release(keys=list(_keys(packet_id)[:2]), args=[user_id])

    def record(self, packet_id: int, user_id: int, amount_fen: int) -> None:
        self._record(keys=list(_keys(packet_id)[:2]), args=[user_id, amount_fen])

    def restore(self, packet_id: int, user_id: int, amount_fen: int) -> None:
        self._restore(keys=list(_keys(packet_id)[:2]), args=[user_id, amount_fen])

    def close(self, packet_id: int) -> None:
        self._close(keys=list(_keys(packet_id)[:2]), args=[])

    def clear(self) -> None:
        """Nothing of its own to clear: the keys live in the cache's Redis database."""


class LocalPacketStore:
    """The same answers for a single process (the embedded default), under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: dict[int, tuple[int, float]] = {}
        self._who: dict[int, dict[int, int | None]] = {}
        self._facts = LocalJsonFacts()

    def _live_left(self, packet_id: int) -> int | None:
        entry = self._left.get(packet_id)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._left.pop(packet_id, None)
            self._who.pop(packet_id, None)
            return None
        return entry[0]

    def _set_left(self, packet_id: int, value: int) -> None:
        self._left[packet_id] = (value, self._left[packet_id][1])

    def snapshot(self, packet_id: int, user_id: int) -> Snapshot:
        with self._lock:
            facts = _packet_facts(self._facts.get(_keys(packet_id)[2]))
            left = self._live_left(packet_id)
            who = self._who.get(packet_id, {}) if left is not None else {}
            return Snapshot(
                facts=facts, left=left, my_amount=who.get(user_id), admitted=user_id in who
            )

    def state(self, packet_id: int) -> PacketState:
        with self._lock:
            facts = _packet_facts(self._facts.get(_keys(packet_id)[2]))
            left = self._live_left(packet_id)
            shares = dict(self._who.get(packet_id, {})) if left is not None else {}
            return PacketState(facts=facts, left=left, shares=shares)

    def put_facts(self, packet_id: int, facts: PacketFacts, ttl_ms: int) -> None:
        self._facts.put(_keys(packet_id)[2], facts, ttl_ms)

    def drop_facts(self, packet_id: int) -> None:
        self._facts.drop(_keys(packet_id)[2])

    def build_gate(self, packet_id: int, left: int, opened: dict[int, int], ttl_ms: int) -> bool:
        with self._lock:
            if self._live_left(packet_id) is not None:
                return False
            self._left[packet_id] = (left, time.monotonic() + ttl_ms / 1000)
            self._who[packet_id] = dict(opened)
            return True

    def admit(self, packet_id: int, user_id: int) -> Admission:
        with self._lock:
            left = self._live_left(packet_id)
            if left is None:
                return Admission.MISSING
            who = self._who.setdefault(packet_id, {})
            if user_id in who:
                return Admission.ALREADY
            if left <= 0:
                return Admission.FINISHED
            self._set_left(packet_id, left - 1)
            who[user_id] = None
            return Admission.ADMITTED

    def release(self, packet_id: int, user_id: int) -> None:
        with self._lock:
            who = self._who.get(packet_id, {})
            if user_id in who and who[user_id] is None:
                del who[user_id]
                left = self._live_left(packet_id)
                if left is not None:
                    self._set_left(packet_id, left + 1)

    def record(self, packet_id: int, user_id: int, amount_fen: int) -> None:
        with self._lock:
            if self._live_left(packet_id) is not None:
                self._who.setdefault(packet_id, {})[user_id] = amount_fen

    def restore(self, packet_id: int, user_id: int, amount_fen: int) -> None:
        with self._lock:
            left = self._live_left(packet_id)
            if left is None:
                return
            who = self._who.setdefault(packet_id, {})
            if user_id in who and who[user_id] is None:
                self._set_left(packet_id, left + 1)
            who[user_id] = amount_fen

    def close(self, packet_id: int) -> None:
        with self._lock:
            if self._live_left(packet_id) is not None:
                self._set_left(packet_id, 0)

    def clear(self) -> None:
        with self._lock:
            self._left.clear()
            self._who.clear()
            self._facts.clear()


@cache
def packet_store() -> PacketStore:
    """The store for this process: Redis when REDIS_URL is set, else in-process."""
    return RedisPacketStore() if settings.REDIS_URL else LocalPacketStore()
