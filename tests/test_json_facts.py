"""The kernel's JSON facts with a TTL (redpacket/kernel/json_facts.py), which the packet
gate and the campaign store share: the same answers on Redis and in-process."""

import pytest

from redpacket.kernel import json_facts
from redpacket.kernel.json_facts import LocalJsonFacts, RedisJsonFacts
from tests.conftest import STORE_KINDS


def _redis_facts(redis=None):
    from django_redis import get_redis_connection

    return RedisJsonFacts(redis if redis is not None else get_redis_connection("default"))


@pytest.fixture(params=STORE_KINDS)
def facts(request):
    from tests.conftest import store_of_kind

    return store_of_kind(request, _redis_facts, LocalJsonFacts)


def test_a_document_round_trips_and_is_dropped(facts):
    assert facts.get("t:{1}:facts") is None
    facts.put("t:{1}:facts", {"id": 1, "name": "活动", "tiers": [[1, 2, 3]]}, 60_000)
    assert facts.get("t:{1}:facts") == {"id": 1, "name": "活动", "tiers": [[1, 2, 3]]}
    assert facts.get("t:{2}:facts") is None
    facts.drop("t:{1}:facts")
    facts.drop("t:{1}:facts")  # dropping what is gone is fine
    assert facts.get("t:{1}:facts") is None


def test_every_read_is_a_fresh_copy(facts):
    document = {"tiers": [[1, 2, 3]]}
    facts.put("k", document, 60_000)
    document["tiers"].append([4, 5, 6])  # the caller's later change is not cached
    facts.get("k")["tiers"].clear()  # nor is a reader's
    assert facts.get("k") == {"tiers": [[1, 2, 3]]}


@pytest.mark.redis
def test_on_redis_the_ttl_is_at_least_a_second():
    facts = _redis_facts()
    facts.redis.delete("k")
    facts.put("k", {"a": 1}, 5)
    assert 5 < facts.redis.pttl("k") <= json_facts.MIN_TTL_MS
    facts.put("k", {"a": 1}, 60_000)
    assert json_facts.MIN_TTL_MS < facts.redis.pttl("k") <= 60_000
    facts.redis.delete("k")


def test_in_process_a_document_is_gone_once_its_ttl_has_passed(monkeypatch):
    clock = [1_000.0]
    monkeypatch.setattr(json_facts.time, "monotonic", lambda: clock[0])
    facts = LocalJsonFacts()
    facts.put("short", {"a": 1}, 5)  # raised to a second
    facts.put("long", {"b": 2}, 60_000)
    clock[0] += 1.0
    assert facts.get("short") == {"a": 1}
    clock[0] += 0.001
    assert facts.get("short") is None
    assert facts.get("long") == {"b": 2}
    clock[0] += 60
    assert facts.get("long") is None
    facts.put("long", {"b": 3}, 60_000)
    facts.clear()
    assert facts.get("long") is None
