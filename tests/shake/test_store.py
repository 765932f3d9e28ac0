"""The campaign store's answers, on Redis (when REDIS_URL is set) and in-process alike:
the Lua script and the in-process store must give the same answer to the same question."""

import time

import pytest

from shake.draw import Candidate
from shake.store import (
    INFLIGHT_KEY,
    INFLIGHT_STALE_MS,
    LocalCampaignStore,
    Outcome,
    RedisCampaignStore,
    ShakeTerms,
)
from tests.conftest import STORE_KINDS, store_of_kind

NOW = int(time.time() * 1000)
EXPIRE = NOW + 3_600_000


@pytest.fixture(params=STORE_KINDS)
def store(request):
    return store_of_kind(request, RedisCampaignStore, LocalCampaignStore)


def terms(**changes):
    values = {
        "now_ms": NOW,
        "starts_ms": NOW - 1000,
        "ends_ms": NOW + 1000,
        "allowed": 100,
        "per_user_cap": 1,
        "min_share_fen": 200,
        "chance_roll": 0,
        "win_chance_ppm": 1_000_000,
        "candidates": [Candidate(1, 500, 900), Candidate(0, 200, 300)],
    }
    values.update(changes)
    return ShakeTerms(**values)


def build(store, campaign_id=1, *, left=10, budget=10_000, count=10, closed=False, users=None):
    return store.build(
        campaign_id,
        left=left,
        budget_fen=budget,
        count=count,
        closed=closed,
        user_wins=users or {},
        expire_at_ms=EXPIRE,
        epoch="e1",
    )


def test_missing_until_built_and_a_second_build_is_refused(store):
    assert store.reserve(1, 10, terms()).outcome is Outcome.MISSING
    assert build(store) is True
    assert build(store, left=99) is False
    assert store.peek(1).left == 10


def test_a_win_reserves_a_packet_its_amount_and_the_users_win(store):
    build(store)
    won = store.reserve(1, 10, terms())
    assert (won.outcome, won.amount_fen, won.candidate, won.epoch) == (Outcome.WON, 900, 0, "e1")
    state = store.peek(1)
    assert (state.left, state.budget_fen) == (9, 9_100)
    assert store.reserve(1, 10, terms()).outcome is Outcome.LIMIT_REACHED


def test_the_payout_is_clamped_skipped_or_the_minimum_as_the_budget_shrinks(store):
    build(store, left=2, budget=1_000)  # fits 800
    assert store.reserve(1, 10, terms()).amount_fen == 800  # 900 clamped into [500, 900]
    build(store, 2, left=2, budget=600)  # fits 400: the 500–900 tier is skipped
    won = store.reserve(2, 10, terms())
    assert (won.amount_fen, won.candidate) == (300, 1)
    build(store, 3, left=2, budget=450)  # fits 250: the cheaper one is clamped
    assert store.reserve(3, 10, terms()).amount_fen == 250
    build(store, 4, left=1, budget=200)  # only the minimum share fits
    won = store.reserve(4, 10, terms(candidates=[Candidate(1, 500, 900)]))
    assert (won.amount_fen, won.candidate) == (200, None)


def test_outcomes_in_order(store):
    build(store, left=1, users={11: 1})
    assert store.reserve(1, 10, terms(now_ms=NOW + 1000)).outcome is Outcome.OVER
    assert store.reserve(1, 10, terms(now_ms=NOW - 1001)).outcome is Outcome.OVER
    assert store.reserve(1, 11, terms()).outcome is Outcome.LIMIT_REACHED
    assert store.reserve(1, 10, terms(allowed=9)).outcome is Outcome.NO_LUCK  # 9 won of 9
    assert store.reserve(1, 10, terms(chance_roll=999_999, win_chance_ppm=999_999)).outcome is (
        Outcome.NO_LUCK
    )
    assert store.reserve(1, 10, terms()).outcome is Outcome.WON
    assert store.reserve(1, 12, terms()).outcome is Outcome.SOLD_OUT


def test_the_pace_line_counts_reserved_wins(store):
    build(store, left=10, count=10)
    assert store.reserve(1, 10, terms(allowed=1)).outcome is Outcome.WON
    assert store.reserve(1, 11, terms(allowed=1)).outcome is Outcome.NO_LUCK
    assert store.reserve(1, 11, terms(allowed=2)).outcome is Outcome.WON


def test_give_back_only_into_the_same_epoch(store):
    build(store)
    won = store.reserve(1, 10, terms())
    assert (
        store.give_back(1, user_id=10, epoch="other", count=1, amount_fen=won.amount_fen) is False
    )
    assert store.give_back(1, user_id=10, epoch="e1", count=1, amount_fen=won.amount_fen) is True
    state = store.peek(1)
    assert (state.left, state.budget_fen) == (10, 10_000)
    assert store.reserve(1, 10, terms()).outcome is Outcome.WON  # the user's win came back


def test_give_back_can_set_the_users_wins_to_the_databases(store):
    build(store)
    won = store.reserve(1, 10, terms())
    store.give_back(1, user_id=10, epoch="e1", count=1, amount_fen=won.amount_fen, user_wins=1)
    assert store.reserve(1, 10, terms()).outcome is Outcome.LIMIT_REACHED


def test_sell_out_and_close(store):
    build(store)
    store.sell_out(1)
    assert store.reserve(1, 10, terms()).outcome is Outcome.SOLD_OUT
    store.close(1)
    assert store.reserve(1, 10, terms()).outcome is Outcome.OVER


def test_a_rebuild_carries_each_users_wins_even_in_chunks(store, monkeypatch):
    monkeypatch.setattr("shake.store.redis_store.BUILD_CHUNK", 3)
    build(store, users={user: 1 for user in range(10, 20)})
    for user in range(10, 20):
        assert store.reserve(1, user, terms()).outcome is Outcome.LIMIT_REACHED
    assert store.reserve(1, 20, terms()).outcome is Outcome.WON


def test_the_shown_remaining_count_only_goes_down(store):
    assert store.shown_remaining(1) is None
    assert store.show_remaining(1, 100, "t1", EXPIRE) is True
    assert store.show_remaining(1, 101, "t2", EXPIRE) is False
    assert store.show_remaining(1, 90, "t3", EXPIRE) is True
    assert store.shown_remaining(1) == (90, "t3")


def test_facts_round_trip_and_drop(store):
    store.put_facts(1, {"id": 1, "name": "活动"}, 60_000)
    assert store.facts(1) == {"id": 1, "name": "活动"}
    store.drop_facts(1)
    assert store.facts(1) is None


def test_the_in_flight_bound_and_the_per_user_interval(store):
    enter = store.enter
    assert enter(campaign_id=1, user_id=1, token="a", limit=2, interval_ms=0)[0]
    assert enter(campaign_id=1, user_id=2, token="b", limit=2, interval_ms=0)[0]
    assert not enter(campaign_id=1, user_id=3, token="c", limit=2, interval_ms=0)[0]
    store.leave("a")
    assert enter(campaign_id=1, user_id=3, token="c", limit=2, interval_ms=0)[0]
    store.leave("b")
    store.leave("c")
    assert enter(campaign_id=1, user_id=4, token="d", limit=5, interval_ms=60_000)[0]
    store.leave("d")
    assert not enter(campaign_id=1, user_id=4, token="e", limit=5, interval_ms=60_000)[0]
    assert store.in_flight() == 0  # the refused one holds no slot


def test_a_crashed_workers_slot_ages_out(store):
    stale = time.time() * 1000 - INFLIGHT_STALE_MS - 1
    if isinstance(store, RedisCampaignStore):
        store.redis.zadd(INFLIGHT_KEY, {"dead-1": stale, "dead-2": stale})
    else:
        store._tokens.update({"dead-1": time.monotonic() - 11, "dead-2": time.monotonic() - 11})
    assert store.enter(campaign_id=1, user_id=1, token="live", limit=2, interval_ms=0)[0]
    assert store.in_flight() == 1
