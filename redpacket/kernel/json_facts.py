"""JSON facts with a TTL: the documents the fast paths keep warm so a hot read needs no SQL
(a packet's display facts `rp:{<id>}:facts`, a campaign's terms `sk:{<id>}:facts`;
ARCHITECTURE "Redis keys").

Why one helper: the packet gate and the campaign store each cache such a document, on
Redis when REDIS_URL is set and in-process for the embedded default, and the rule is the
same for both — JSON text, a TTL of at least a second, gone once the TTL has passed, every
read a fresh copy. It lives here once; the keys and the TTLs stay the callers'.

The kernel knows no app and opens no connection: a store hands in the Redis client its
Lua scripts use, and a store that reads a facts key inside a pipeline of its own (one
round trip with its other keys) decodes the answer with `decode`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

# The shortest TTL a document gets: a caller's smaller (or negative) TTL is raised to this.
MIN_TTL_MS = 1_000


def decode(raw: bytes | str | None) -> dict[str, Any] | None:
    """A document as Redis returned it (a GET, or a GET queued in a pipeline); None: absent."""
    return json.loads(raw) if raw else None


class JsonFacts(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...
    def put(self, key: str, facts: Mapping[str, Any], ttl_ms: int) -> None: ...
    def drop(self, key: str) -> None: ...
    def clear(self) -> None: ...


class RedisJsonFacts:
    """The documents as Redis strings that expire on their own (SET PX)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def get(self, key: str) -> dict[str, Any] | None:
        return decode(self.redis.get(key))

    def put(self, key: str, facts: Mapping[str, Any], ttl_ms: int) -> None:
        self.redis.set(key, json.dumps(facts), px=max(ttl_ms, MIN_TTL_MS))

    def drop(self, key: str) -> None:
        self.redis.delete(key)

    def clear(self) -> None:
        """Nothing of its own to clear: the keys live in the cache's Redis database."""


class LocalJsonFacts:
    """The same answers in one process (the embedded default): the JSON text and its
    deadline (monotonic clock) per key, under one lock. Keeping the text, not the dict,
    makes every read a fresh copy, as a read from Redis is: no caller can change what the
    next one reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[str, float]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                del self._entries[key]
                return None
            return json.loads(entry[0])

    def put(self, key: str, facts: Mapping[str, Any], ttl_ms: int) -> None:
        deadline = time.monotonic() + max(ttl_ms, MIN_TTL_MS) / 1000
        with self._lock:
            self._entries[key] = (json.dumps(facts), deadline)

    def drop(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
