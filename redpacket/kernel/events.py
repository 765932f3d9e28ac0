"""Websocket events, sent only after the transaction that caused them commits.

Groups: `room.<id>` (chat's, `chat.events.room_group`) carries everything a room shows to
all its members; `user.<id>` (`user_group`, here because wallet credits go to it too)
carries a person's own events (notices only they see, wallet credits). Every event is a
JSON object with a `"type"` (API.md "Websocket"); consumers forward it unchanged.

`publish_on_commit` is the only way events leave: it waits for `transaction.on_commit`,
so a rolled-back transaction never announces anything. Outside a transaction (autocommit)
the callback runs at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

# The channel-layer message type every consumer handles (`event_forward`).
FORWARD = "event.forward"


def user_group(user_id: int) -> str:
    """The group of every open connection of one user, whichever room page it is on."""
    return f"user.{int(user_id)}"


# channels_redis's group_send, step for step (its Lua script included), so that sync code
# can send without an event loop. Kept with the version it copies (channels-redis 4.x,
# pinned in pyproject.toml) for a deployment that configures the core layer; the
# configured pub/sub layer has its own sender below. tests/redpacket/test_hot_paths.py
# delivers through both on Redis.
_GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""


class _SyncRedisGroupSender:
    """Sends to a channels_redis group from sync code over plain redis-py connections.

    channels_redis is asyncio-only and keeps its connections per event loop, and
    `async_to_sync` runs each call on a new loop: every event paid for a fresh Redis
    connection, and under load for thread hand-offs besides — a third of an open's time
    in the profile (docs/performance.md). This speaks the same protocol with the
    layer's own key, hashing and serialization, over one pool per process, in one or
    two round trips.
    """

    def __init__(self, layer: Any) -> None:
        import redis

        self.layer = layer
        self.clients = [redis.Redis.from_url(host["address"]) for host in layer.hosts]
        self.pid = os.getpid()
        self.local = threading.local()

    @staticmethod
    def supports(layer: Any) -> bool:
        try:
            from channels_redis.core import RedisChannelLayer
        except ImportError:
            return False
        return type(layer) is RedisChannelLayer and all(
            set(host) == {"address"} for host in layer.hosts
        )

    def group_send(self, group: str, message: dict[str, Any]) -> None:
        if group in getattr(self.local, "empty", ()):
            return  # looked up a moment ago, with the other events of its batch
        layer = self.layer
        key = layer._group_key(group)
        client = self.clients[layer.consistent_hash(group)]
        pipe = client.pipeline(transaction=False)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - layer.group_expiry)
        pipe.zrange(key, 0, -1)
        channel_names = [name.decode("utf8") for name in pipe.execute()[1]]
        if not channel_names:
            return
        by_connection, messages, capacities = layer._map_channel_keys_to_connection(
            channel_names, message
        )
        for index, channel_keys in by_connection.items():
            pipe = self.clients[index].pipeline(transaction=False)
            for channel_key in channel_keys:
                pipe.zremrangebyscore(channel_key, min=0, max=int(time.time()) - int(layer.expiry))
            args = [messages[k] for k in channel_keys] + [capacities[k] for k in channel_keys]
            pipe.eval(
                _GROUP_SEND_LUA,
                len(channel_keys),
                *channel_keys,
                *args,
                time.time(),
                layer.expiry,
            )
            over_capacity = pipe.execute()[-1]
            if over_capacity:
                logger.info(
                    "%s of %s channels over capacity in group %s",
                    over_capacity,
                    len(channel_names),
                    group,
                )

    @contextmanager
    def empty_groups_known(self, groups: list[str]) -> Iterator[None]:
        """Within the block, this thread's sends skip the `groups` that have no
        connection now: one round trip per Redis node learns which (most of a crediting
        batch's receivers and senders are not online), not one per event."""
        layer = self.layer
        by_client: dict[int, list[str]] = {}
        for group in dict.fromkeys(groups):
            by_client.setdefault(layer.consistent_hash(group), []).append(group)
        empty: set[str] = set()
        oldest = int(time.time()) - layer.group_expiry
        for index, names in by_client.items():
            pipe = self.clients[index].pipeline(transaction=False)
            for group in names:
                key = layer._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=oldest)
                pipe.zcard(key)
            counts = pipe.execute()[1::2]
            empty.update(group for group, count in zip(names, counts, strict=True) if not count)
        self.local.empty = empty
        try:
            yield
        finally:
            self.local.empty = set()


class _SyncRedisPubSubSender:
    """Publishes to a channels_redis pub/sub group from sync code: one PUBLISH.

    `RedisPubSubChannelLayer` (the configured layer) keeps no per-channel lists in Redis:
    each daphne process subscribes once to each group one of its connections is in and
    hands a published message to those connections itself. So a send is one PUBLISH on
    the group's shard, whatever the room's size, with the layer's own channel name,
    sharding and serialization."""

    def __init__(self, layer: Any) -> None:
        import redis
        from channels_redis.utils import decode_hosts

        self.layer = layer
        self.prefix = layer._kwargs.get("prefix", "asgi")
        hosts = decode_hosts(layer._kwargs.get("hosts"))
        self.clients = [redis.Redis.from_url(host["address"]) for host in hosts]
        self.pid = os.getpid()
        self.local = threading.local()

    @staticmethod
    def supports(layer: Any) -> bool:
        try:
            from channels_redis.pubsub import RedisPubSubChannelLayer
            from channels_redis.utils import decode_hosts
        except ImportError:
            return False
        return (
            type(layer) is RedisPubSubChannelLayer
            and not layer._args
            and all(set(host) == {"address"} for host in decode_hosts(layer._kwargs.get("hosts")))
        )

    def _channel(self, group: str) -> tuple[str, int]:
        from channels_redis.utils import _consistent_hash

        channel = f"{self.prefix}__group__{group}"
        return channel, _consistent_hash(channel, len(self.clients))

    def group_send(self, group: str, message: dict[str, Any]) -> None:
        if group in getattr(self.local, "empty", ()):
            return  # nobody subscribed a moment ago, when its batch was looked up
        channel, index = self._channel(group)
        self.clients[index].publish(channel, self.layer.serialize(message))

    @contextmanager
    def empty_groups_known(self, groups: list[str]) -> Iterator[None]:
        """Within the block, this thread's sends skip the `groups` no daphne subscribes
        to now: one PUBSUB NUMSUB per Redis node (most of a crediting batch's receivers
        and senders are not online), not one PUBLISH per event."""
        by_client: dict[int, list[tuple[str, str]]] = {}
        for group in dict.fromkeys(groups):
            channel, index = self._channel(group)
            by_client.setdefault(index, []).append((group, channel))
        empty: set[str] = set()
        for index, pairs in by_client.items():
            counts = self.clients[index].pubsub_numsub(*[channel for _, channel in pairs])
            empty.update(
                group
                for (group, _), (_, subscribers) in zip(pairs, counts, strict=True)
                if not subscribers
            )
        self.local.empty = empty
        try:
            yield
        finally:
            self.local.empty = set()


_SyncSender = _SyncRedisGroupSender | _SyncRedisPubSubSender
_senders: dict[int, _SyncSender] = {}


def _sync_sender(layer: Any) -> _SyncSender | None:
    for kind in (_SyncRedisPubSubSender, _SyncRedisGroupSender):
        if kind.supports(layer):
            break
    else:
        return None
    sender = _senders.get(id(layer))
    if sender is None or sender.layer is not layer or sender.pid != os.getpid():
        sender = _senders[id(layer)] = kind(layer)
    return sender


def _send_now(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:  # no CHANNEL_LAYERS configured: nothing listens
        return
    message = {"type": FORWARD, "event": event}
    sender = _sync_sender(layer)
    if sender is not None:
        sender.group_send(group, message)
        return
    send = async_to_sync(layer.group_send)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send(group, message)
        return
    # Sync code running in a thread that also runs an event loop (a test driver, a
    # notebook) cannot block on async_to_sync there; send from a helper thread instead.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(send, group, message).result()


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send `event` to `group` once the current transaction commits (never if it rolls back).

    The event is turned into plain JSON data now, so a value that cannot be sent fails
    in the caller's code and not later in a callback. A channel layer that is down
    (Redis unreachable) is logged and does not fail the request that already committed.
    """
    if "type" not in event:
        raise ValueError("an event needs a 'type'")
    payload = json.loads(json.dumps(event, cls=DjangoJSONEncoder))
    transaction.on_commit(lambda: _send_now(group, payload), robust=True)


def _send_many_now(events: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    sender = _sync_sender(layer) if layer is not None else None
    known = (
        sender.empty_groups_known([group for group, _event in events])
        if sender is not None
        else nullcontext()
    )
    with known:
        for group, event in events:
            _send_now(group, event)


def publish_many_on_commit(events: list[tuple[str, dict[str, Any]]]) -> None:
    """`publish_on_commit` of many (group, event) pairs at once, in their order: one
    callback, and on Redis one round trip to learn which groups anyone listens to (a
    crediting batch's events)."""
    if any("type" not in event for _group, event in events):
        raise ValueError("an event needs a 'type'")
    if not events:
        return
    payload = json.loads(json.dumps([list(pair) for pair in events], cls=DjangoJSONEncoder))
    pairs = [(group, event) for group, event in payload]
    transaction.on_commit(lambda: _send_many_now(pairs), robust=True)
