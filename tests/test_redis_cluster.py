"""The application on a Redis Cluster and a sharded channel layer (README "Settings":
REDIS_CLUSTER, CHANNEL_REDIS_URLS), on real Redis started for the session
(tests/redis_nodes.py): a 3-master cluster and two plain Redis shards. The gate's, the
facts' and the campaign store's own tests run on the cluster too (their `cluster` kind).
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from redis.cluster import key_slot

from redpacket.kernel.events import FORWARD, _SyncRedisGroupSender, _SyncRedisPubSubSender
from redpacket.packets import gate
from shake import store as shake_store
from shake.store.base import campaign_keys
from tests.invariants import assert_invariants
from tests.redpacket.conftest import group, send  # noqa: F401 - the packet fixtures
from tests.wallet.conftest import bind_card, fund  # noqa: F401

pytestmark = pytest.mark.cluster


def _cluster_caches(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "CLIENT_CLASS": "redpacket.kernel.redis_cluster.ClusterClient",
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_KWARGS": {"max_connections": 5, "timeout": 5},
            },
            "KEY_PREFIX": "c",
        }
    }


@pytest.fixture
def on_cluster(settings, redis_nodes, cluster_redis):
    """The settings `make cluster` runs with: REDIS_CLUSTER=1, REDIS_URL one node of the
    cluster; the cache, the gate and the campaign store on it."""
    settings.REDIS_CLUSTER = True
    settings.REDIS_URL = redis_nodes.cluster_url
    settings.CACHES = _cluster_caches(redis_nodes.cluster_url)
    gate.packet_store.cache_clear()
    shake_store.campaign_store.cache_clear()
    yield cluster_redis
    gate.packet_store.cache_clear()
    shake_store.campaign_store.cache_clear()


def _node_of(client, key: str) -> str:
    return client.get_node_from_key(key).name


def test_the_keys_of_one_packet_and_one_campaign_share_a_slot(cluster_redis):
    for packet_id in (1, 7, 123_456_789):
        slots = {key_slot(key.encode()) for key in gate._keys(packet_id)}
        assert len(slots) == 1
    for campaign_id in (1, 42):
        assert len({key_slot(key.encode()) for key in campaign_keys(campaign_id)}) == 1
    # …and different packets spread over the masters (the point of a cluster).
    nodes = {_node_of(cluster_redis, gate._keys(packet_id)[0]) for packet_id in range(1, 40)}
    assert len(nodes) == 3


def test_the_cache_runs_on_the_cluster(on_cluster):
    client = on_cluster
    keys = [f"k{n}" for n in range(30)]
    cache.set_many({key: {"n": n} for n, key in enumerate(keys)}, timeout=60)
    # The keys live on all three masters, and one get_many reads them across slots.
    assert len({_node_of(client, cache.make_key(key)) for key in keys}) == 3
    assert cache.get_many([*keys, "absent"]) == {key: {"n": n} for n, key in enumerate(keys)}
    # The throttles' and the SMS limits' primitives.
    assert cache.add("counter", 1, timeout=60) is True
    assert cache.add("counter", 5, timeout=60) is False
    assert cache.incr("counter") == 2
    assert cache.decr("counter") == 1
    cache.delete_many(keys[:10])
    assert cache.get(keys[0]) is None and cache.get(keys[10]) == {"n": 10}
    cache.clear()
    assert cache.get(keys[10]) is None


@pytest.mark.django_db(transaction=True)
def test_a_packet_is_sent_and_opened_with_its_gate_on_the_cluster(on_cluster, group, send):  # noqa: F811
    from redpacket.packets import errors, services

    room, users = group(4)
    packet = send(users[0], room, count=3, total_fen=900)
    left_key, who_key, facts_key = gate._keys(packet.pk)
    assert on_cluster.get(left_key) == b"3"  # built on the cluster when it was sent
    assert on_cluster.exists(facts_key) == 1
    shares = [services.packet_open(user=user, packet_id=packet.pk) for user in users[1:]]
    assert sum(share.amount_fen for share in shares) == 900
    assert on_cluster.get(left_key) == b"0"
    assert set(on_cluster.hgetall(who_key)) == {str(user.pk).encode() for user in users[1:]}
    with pytest.raises(errors.PacketFinished):
        services.packet_open(user=users[0], packet_id=packet.pk)
    assert_invariants()


def test_a_shake_enter_pipeline_runs_on_the_cluster(on_cluster):
    """`enter` pipelines a rate key, the in-flight set and the campaign's facts: three
    slots, and a Lua script inside the cluster pipeline."""
    store = shake_store.campaign_store()
    assert isinstance(store, shake_store.RedisCampaignStore)
    store.put_facts(5, {"id": 5}, 60_000)
    ok, facts = store.enter(campaign_id=5, user_id=1, token="a", limit=1, interval_ms=1000)
    assert (ok, facts) == (True, {"id": 5})
    assert store.enter(campaign_id=5, user_id=1, token="b", limit=5, interval_ms=1000)[0] is False
    assert store.enter(campaign_id=5, user_id=2, token="c", limit=1, interval_ms=0)[0] is False
    assert store.in_flight() == 1
    store.leave("a")
    assert store.enter(campaign_id=5, user_id=2, token="c", limit=1, interval_ms=0)[0] is True


def _layer(kind, urls, prefix):
    if kind == "pubsub":
        from channels_redis.pubsub import RedisPubSubChannelLayer

        return RedisPubSubChannelLayer(hosts=urls, prefix=prefix)
    from channels_redis.core import RedisChannelLayer

    return RedisChannelLayer(hosts=urls, prefix=prefix, expiry=10)


def _run_in_own_loop(coroutine):
    """asyncio.run on a thread of its own: an earlier test (a browser's sync driver) may
    have left an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.mark.parametrize("kind", ["pubsub", "core"])
def test_a_group_message_sent_by_one_web_node_reaches_a_socket_on_the_other(redis_nodes, kind):
    """Two daphnes share the channel layer's hosts (CHANNEL_REDIS_URLS): an event sent
    from one process (the sync sender of publish_on_commit, and channels' own group_send)
    reaches a channel held by the other, with groups spread over both shards — on the
    pub/sub layer the settings use, and on the list-based one."""
    import redis

    urls = redis_nodes.shard_urls
    shards = [redis.Redis.from_url(url) for url in urls]
    for shard in shards:
        shard.flushall()
    prefix = f"ws-{uuid.uuid4().hex[:6]}"
    web, ws = _layer(kind, urls, prefix), _layer(kind, urls, prefix)
    names = [f"room.{n}" for n in range(12)]
    subscribed: list[int] = []

    async def scenario():
        channels = {}
        for name in names:
            channels[name] = await ws.new_channel()
            await ws.group_add(name, channels[name])
        if kind == "pubsub":
            await asyncio.sleep(0.2)  # the subscriptions are in place
            subscribed.extend(len(shard.pubsub_channels()) for shard in shards)
        sender = (_SyncRedisPubSubSender if kind == "pubsub" else _SyncRedisGroupSender)(web)
        for name in names:
            await asyncio.to_thread(
                sender.group_send, name, {"type": FORWARD, "event": {"type": "t", "g": name}}
            )
        got = {name: await asyncio.wait_for(ws.receive(channels[name]), 5) for name in names}
        await web.group_send(names[0], {"type": FORWARD, "event": {"type": "again"}})
        again = await asyncio.wait_for(ws.receive(channels[names[0]]), 5)
        if kind == "pubsub":
            for name in names:
                await ws.group_discard(name, channels[name])
            await web.flush()
            await ws.flush()
        else:
            await web.close_pools()
            await ws.close_pools()
        return got, again

    got, again = _run_in_own_loop(scenario())
    assert {name: message["event"]["g"] for name, message in got.items()} == {
        name: name for name in names
    }
    assert again["event"] == {"type": "again"}
    # Both shards held groups: the layer really spread over the hosts.
    if kind == "pubsub":
        assert all(count > 0 for count in subscribed)
    else:
        assert all(shard.dbsize() > 0 for shard in shards)
        assert {web.consistent_hash(name) for name in names} == {0, 1}


def test_cluster_settings_are_refused_without_channel_hosts_or_broker():
    import os
    import subprocess
    import sys

    base = {
        **os.environ,
        "DEBUG": "1",
        "REDIS_CLUSTER": "1",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    base.pop("CHANNEL_REDIS_URLS", None)
    base.pop("CELERY_BROKER_URL", None)
    code = "import redpacket.settings"
    answer = subprocess.run(
        [sys.executable, "-c", code], env=base, capture_output=True, text=True, check=False
    )
    assert "CHANNEL_REDIS_URLS" in answer.stderr
    with_hosts = {**base, "CHANNEL_REDIS_URLS": "redis://127.0.0.1:2,redis://127.0.0.1:3"}
    answer = subprocess.run(
        [sys.executable, "-c", code], env=with_hosts, capture_output=True, text=True, check=False
    )
    assert "CELERY_BROKER_URL" in answer.stderr
    complete = {**with_hosts, "CELERY_BROKER_URL": "amqp://127.0.0.1:5672//"}
    code = (
        "from redpacket import settings as s; "
        "print(s.CACHES['default']['OPTIONS']['CLIENT_CLASS']); "
        "print(s.CHANNEL_LAYERS['default']['CONFIG']['hosts'])"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code], env=complete, capture_output=True, text=True, check=True
    )
    assert answer.stdout.splitlines() == [
        "redpacket.kernel.redis_cluster.ClusterClient",
        "['redis://127.0.0.1:2', 'redis://127.0.0.1:3']",
    ]


def test_the_cluster_cache_keeps_a_bounded_blocking_pool_per_node(on_cluster):
    from django_redis import get_redis_connection
    from redis import BlockingConnectionPool

    client = get_redis_connection("default")
    cache.set("warm", 1)
    pools = [node.redis_connection.connection_pool for node in client.get_primaries()]
    assert len(pools) == 3
    assert all(isinstance(pool, BlockingConnectionPool) for pool in pools)
    assert {pool.max_connections for pool in pools} == {5}


@pytest.mark.parametrize("error", ["ClusterDownError", "TryAgainError", "SlotNotCoveredError"])
def test_a_cluster_failover_in_progress_is_a_503_to_retry(error):
    from redis import exceptions

    from redpacket.kernel.api import exception_handler

    response = exception_handler(getattr(exceptions, error)("CLUSTERDOWN"), {"view": None})
    assert response is not None
    assert (response.status_code, response.data["code"]) == (503, "unavailable")


@pytest.mark.django_db
def test_the_sms_limits_and_the_message_throttle_count_on_the_cluster(
    on_cluster, settings, make_user, monkeypatch
):
    from chat.throttles import ChatMessageThrottle, message_send_allowed
    from wallet.sms_limits import SmsRateLimited, sms_send_allow

    settings.SMS_SENDS_PER_USER = "2/hour"
    settings.SMS_SENDS_PER_PHONE = "10/hour"
    sms_send_allow(user_id=1, phone="13800000000")
    sms_send_allow(user_id=1, phone="13800000001")
    with pytest.raises(SmsRateLimited):
        sms_send_allow(user_id=1, phone="13800000002")
    assert on_cluster.get(cache.make_key("sms:user:1")) == b"3"  # counted on the cluster

    monkeypatch.setattr(ChatMessageThrottle, "THROTTLE_RATES", {"chat": "3/min"})
    user = make_user()
    assert [message_send_allowed(user) for _ in range(4)] == [True, True, True, False]
    assert on_cluster.exists(cache.make_key(f"throttle_chat_{user.pk}")) == 1
