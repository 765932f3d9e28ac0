"""The gate's answers, on Redis (when REDIS_URL is set) and in-process alike."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from redpacket.packets.gate import Admission, LocalPacketStore, RedisPacketStore
from tests.conftest import STORE_KINDS, store_of_kind

TTL = 60_000


@pytest.fixture(params=STORE_KINDS)
def store(request):
    return store_of_kind(request, RedisPacketStore, LocalPacketStore)


def test_missing_until_built(store):
    assert store.admit(1, 10) is Admission.MISSING
    assert store.snapshot(1, 10).left is None
    assert store.build_gate(1, 2, {}, TTL) is True
    assert store.build_gate(1, 99, {}, TTL) is False  # a second rebuild leaves it alone
    assert store.snapshot(1, 10).left == 2


def test_admits_each_user_once_and_at_most_left(store):
    store.build_gate(1, 2, {}, TTL)
    assert store.admit(1, 10) is Admission.ADMITTED
    assert store.admit(1, 10) is Admission.ALREADY
    assert store.admit(1, 11) is Admission.ADMITTED
    assert store.admit(1, 12) is Admission.FINISHED
    assert store.snapshot(1, 12).left == 0


def test_snapshot_tells_whether_the_gate_let_the_caller_in(store):
    assert store.snapshot(1, 10).admitted is False  # no gate
    store.build_gate(1, 1, {}, TTL)
    assert store.snapshot(1, 10).admitted is False
    store.admit(1, 10)
    opening = store.snapshot(1, 10)
    assert opening.admitted is True and opening.my_amount is None
    assert store.snapshot(1, 11).admitted is False and store.snapshot(1, 11).left == 0
    store.record(1, 10, 80)
    opened = store.snapshot(1, 10)
    assert opened.admitted is True and opened.my_amount == 80


def test_release_gives_the_place_back_only_once(store):
    store.build_gate(1, 1, {}, TTL)
    store.admit(1, 10)
    store.release(1, 10)
    store.release(1, 10)
    assert store.snapshot(1, 10).left == 1
    assert store.admit(1, 11) is Admission.ADMITTED


def test_record_remembers_the_share_and_release_keeps_it(store):
    store.build_gate(1, 3, {}, TTL)
    store.admit(1, 10)
    store.record(1, 10, 250)
    store.release(1, 10)  # an opened share is never given back
    snapshot = store.snapshot(1, 10)
    assert snapshot.my_amount == 250 and snapshot.left == 2
    assert store.admit(1, 10) is Admission.ALREADY


def test_restore_returns_the_place_of_a_user_who_already_had_a_share(store):
    store.build_gate(1, 2, {}, TTL)
    store.admit(1, 10)
    store.restore(1, 10, 99)
    snapshot = store.snapshot(1, 10)
    assert snapshot.left == 2 and snapshot.my_amount == 99


def test_rebuild_carries_opened_shares(store):
    store.build_gate(1, 1, {10: 500, 11: 300}, TTL)
    assert store.snapshot(1, 10).my_amount == 500
    assert store.admit(1, 11) is Admission.ALREADY
    assert store.admit(1, 12) is Admission.ADMITTED


def test_close_stops_admissions(store):
    store.build_gate(1, 5, {}, TTL)
    store.close(1)
    assert store.admit(1, 10) is Admission.FINISHED


def test_record_never_recreates_a_vanished_gate(store):
    store.record(1, 10, 5)
    assert store.admit(1, 10) is Admission.MISSING


def test_facts_round_trip(store):
    store.put_facts(1, {"kind": "lucky", "count": 3}, TTL)
    assert store.snapshot(1, 0).facts == {"kind": "lucky", "count": 3}
    store.drop_facts(1)
    assert store.snapshot(1, 0).facts is None


def test_hundreds_of_concurrent_admissions_let_exactly_left_through(store):
    store.build_gate(7, 10, {}, TTL)
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda user: store.admit(7, user), range(300)))
    assert Counter(answers) == {Admission.ADMITTED: 10, Admission.FINISHED: 290}


@pytest.mark.redis
def test_keys_share_one_hash_tag_and_expire():
    from django.core.cache import cache

    cache.clear()
    store = RedisPacketStore()
    store.build_gate(42, 3, {1: 2}, TTL)
    store.put_facts(42, {"a": 1}, TTL)
    keys = sorted(k.decode() for k in store.redis.keys("rp:*"))
    assert keys == ["rp:{42}:facts", "rp:{42}:left", "rp:{42}:who"]
    assert all(0 < store.redis.pttl(key) <= TTL for key in keys)


def test_state_holds_every_share_for_all_viewers_at_once(store):
    store.build_gate(1, 3, {7: 120}, TTL)
    store.put_facts(1, {"id": 1, "kind": "lucky"}, TTL)
    store.admit(1, 10)  # admitted, not opened yet
    state = store.state(1)
    assert state.facts == {"id": 1, "kind": "lucky"} and state.left == 2
    assert state.shares == {7: 120, 10: None}
    for user in (7, 10, 11):
        assert state.snapshot_for(user) == store.snapshot(1, user)


def test_state_of_a_missing_gate_is_empty(store):
    state = store.state(2)
    assert state.left is None and state.facts is None and state.shares == {}
