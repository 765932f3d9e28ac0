"""The payout rule is written twice: `shake.draw.choose` (the reference, which the
in-process store calls) and the Lua reservation on Redis (shake/store/lua.py). On random
inputs, on Redis: the same tiers, budget left and draw give the same tier and amount, or
the same "nothing fits" (sold out); and the two stores give the same whole reservation
(the order of the checks before the payout too). Skipped without REDIS_URL."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shake.draw import PPM, choose, draw_candidates, largest_fitting_amount
from shake.store import LocalCampaignStore, Outcome, RedisCampaignStore, ShakeTerms
from tests.shake.conftest import Seeded, normalised, tier_tables

pytestmark = pytest.mark.redis

CAMPAIGN = 7
USER = 10
WINDOW_MS = 60_000


def _terms(now_ms, candidates, **changes):
    values = {
        "now_ms": now_ms,
        "starts_ms": now_ms - WINDOW_MS,
        "ends_ms": now_ms + WINDOW_MS,
        "allowed": 1_000_000,
        "per_user_cap": 1,
        "min_share_fen": 200,
        "chance_roll": 0,
        "win_chance_ppm": PPM,
        "candidates": candidates,
    }
    values.update(changes)
    return ShakeTerms(**values)


def _fresh(store, *, left, budget, count, closed=False, user_wins=None):
    store.forget(CAMPAIGN)
    assert store.build(
        CAMPAIGN,
        left=left,
        budget_fen=budget,
        count=count,
        closed=closed,
        user_wins=user_wins or {},
        expire_at_ms=int(time.time() * 1000) + 3_600_000,
        epoch="p",
    )


def _tier(reservation, candidates):
    return None if reservation.candidate is None else candidates[reservation.candidate].index


def _near(*edges, low=0, high=None):
    """One of the edges or a step either side of one (clipped), or anything: where a rule
    that compares against them would differ from its off-by-one copy."""
    near = {edge + step for edge in edges for step in (-1, 0, 1)}
    near = sorted(n for n in near if n >= low and (high is None or n <= high))
    return st.one_of(st.sampled_from(near), st.integers(low, high or 200_000))


@settings(max_examples=300, deadline=None)
@given(
    tiers=tier_tables,
    seed=st.integers(),
    left=st.integers(1, 60),
    won=st.integers(0, 20),
    min_share=st.integers(1, 1_000),
    data=st.data(),
)
def test_the_lua_reservation_pays_what_choose_picks(tiers, seed, left, won, min_share, data):
    candidates = draw_candidates(normalised(tiers), Seeded(seed))
    edges = [min_share] + [fen for c in candidates for fen in (c.min_fen, c.amount_fen)]
    fit = data.draw(_near(*edges), label="fit")  # the largest amount that fits
    budget = fit + (left - 1) * min_share
    assert fit == largest_fitting_amount(
        remaining_budget_fen=budget, remaining_count=left, min_share_fen=min_share
    )
    expected = choose(candidates, fit_fen=fit, min_share_fen=min_share)

    store = RedisCampaignStore()
    _fresh(store, left=left, budget=budget, count=left + won)
    now_ms = int(time.time() * 1000)
    got = store.reserve(CAMPAIGN, USER, _terms(now_ms, candidates, min_share_fen=min_share))
    state = store.peek(CAMPAIGN)

    if expected is None:
        assert got.outcome is Outcome.SOLD_OUT
        assert (state.left, state.budget_fen) == (left, budget)
    else:
        tier, amount = expected
        assert (got.outcome, _tier(got, candidates), got.amount_fen) == (Outcome.WON, tier, amount)
        assert (state.left, state.budget_fen) == (left - 1, budget - amount)


# Each check refuses now and then, so that many examples reach the next one and the payout.
@settings(max_examples=400, deadline=None)
@given(
    tiers=tier_tables,
    seed=st.integers(),
    left=st.integers(0, 4),
    won=st.integers(0, 4),
    budget=st.integers(0, 20_000),
    closed=st.sampled_from([False, False, False, True]),
    mine=st.integers(0, 2),
    cap=st.integers(1, 3),
    allowed=st.integers(0, 10),
    when=st.sampled_from(["before", "start", "during", "during", "during", "end"]),
    win_chance_ppm=st.sampled_from([0, 1, 500_000, PPM]),
    data=st.data(),
)
def test_both_stores_give_the_same_reservation(
    tiers, seed, left, won, budget, closed, mine, cap, allowed, when, win_chance_ppm, data
):
    chance_roll = data.draw(_near(win_chance_ppm, high=PPM - 1), label="chance_roll")
    candidates = draw_candidates(normalised(tiers), Seeded(seed))
    now_ms = int(time.time() * 1000)
    starts_ms = {"before": now_ms + 1, "start": now_ms, "during": now_ms - 1, "end": now_ms - 2}
    terms = _terms(
        now_ms,
        candidates,
        starts_ms=starts_ms[when],
        ends_ms=now_ms if when == "end" else now_ms + WINDOW_MS,
        allowed=allowed,
        per_user_cap=cap,
        chance_roll=chance_roll,
        win_chance_ppm=win_chance_ppm,
    )

    answers = []
    for store in (RedisCampaignStore(), LocalCampaignStore()):
        _fresh(
            store,
            left=left,
            budget=budget,
            count=left + won,
            closed=closed,
            user_wins={USER: mine},
        )
        answers.append((store.reserve(CAMPAIGN, USER, terms), store.peek(CAMPAIGN)))
    assert answers[0] == answers[1]
