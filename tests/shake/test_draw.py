"""The pure draw (shake/draw.py): tier probabilities, the budget rule, the fallbacks, pacing."""

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shake.draw import (
    DEFAULT_TIERS,
    PPM,
    Candidate,
    choose,
    draw_candidates,
    draw_tier,
    largest_fitting_amount,
    pace_allowance,
    tier_for_roll,
)
from tests.shake.conftest import Rolls, Seeded, normalised, tier_tables

DRAWS = 1_000_000
# χ² critical value for p = 0.001 with 3 degrees of freedom (4 tiers − 1).
CHI2_CRITICAL_P001_DF3 = 16.266


def chi_square(observed: Counter, tiers) -> float:
    total = sum(observed.values())
    statistic = 0.0
    for index, tier in enumerate(tiers):
        expected = total * tier.probability_ppm / PPM
        statistic += (observed[index] - expected) ** 2 / expected
    return statistic


def test_a_million_draws_match_the_tier_table():
    # Seeded, so CI never fails on the 1-in-1,000 chance; the mapping from a uniform roll
    # to a tier is what is under test (production draws from `secrets`).
    source = Seeded(20261201)
    observed = Counter(draw_tier(DEFAULT_TIERS, rng=source) for _ in range(DRAWS))
    statistic = chi_square(observed, DEFAULT_TIERS)
    print(f"\nχ² over {DRAWS} draws: {statistic:.3f} (critical {CHI2_CRITICAL_P001_DF3})", observed)
    assert statistic < CHI2_CRITICAL_P001_DF3
    assert observed[3] > 0  # the ¥618 tier came up by chance too (expected ~100 times)


def test_the_chi_square_check_catches_a_biased_source():
    class Skewed:
        # Half of the rolls pushed into the top tenth of [0, 1e6): far too many big tiers.
        rng = random.Random(7)

        def randbelow(self, n):
            value = self.rng.randrange(n)
            return max(value, n * 9 // 10) if self.rng.random() < 0.5 else value

    observed = Counter(draw_tier(DEFAULT_TIERS, Skewed()) for _ in range(100_000))
    assert chi_square(observed, DEFAULT_TIERS) > CHI2_CRITICAL_P001_DF3


def test_the_618_tier_is_reachable_with_a_forced_roll():
    candidates = draw_candidates(DEFAULT_TIERS, Rolls(999_999))
    assert candidates[0] == Candidate(index=3, min_fen=61_800, amount_fen=61_800)
    # then the cheaper tiers, most generous first, each with its own amount
    assert [c.index for c in candidates[1:]] == [2, 1, 0]


@pytest.mark.parametrize(
    ("roll", "tier"),
    [(0, 0), (849_999, 0), (850_000, 1), (949_999, 1), (950_000, 2), (999_899, 2), (999_900, 3)],
)
def test_rolls_map_onto_the_cumulative_table(roll, tier):
    assert tier_for_roll(DEFAULT_TIERS, roll) == tier


def test_a_roll_outside_the_range_is_refused():
    with pytest.raises(ValueError):
        tier_for_roll(DEFAULT_TIERS, PPM)


def test_the_largest_fitting_amount_keeps_the_minimum_for_everyone_else():
    assert (
        largest_fitting_amount(remaining_budget_fen=10_000, remaining_count=10, min_share_fen=200)
        == 8_200
    )
    assert (
        largest_fitting_amount(remaining_budget_fen=500, remaining_count=1, min_share_fen=200)
        == 500
    )
    assert (
        largest_fitting_amount(remaining_budget_fen=500, remaining_count=0, min_share_fen=200) == 0
    )


def test_choose_keeps_skips_clamps_and_falls_back():
    candidates = [Candidate(3, 61_800, 61_800), Candidate(2, 2_000, 3_500), Candidate(1, 500, 900)]
    assert choose(candidates, fit_fen=100_000, min_share_fen=200) == (3, 61_800)
    assert choose(candidates, fit_fen=4_000, min_share_fen=200) == (2, 3_500)
    assert choose(candidates, fit_fen=3_000, min_share_fen=200) == (2, 3_000)  # clamped
    assert choose(candidates, fit_fen=1_000, min_share_fen=200) == (1, 900)  # cheaper tier
    assert choose(candidates, fit_fen=700, min_share_fen=200) == (1, 700)
    assert choose(candidates, fit_fen=300, min_share_fen=200) == (None, 200)  # the minimum
    assert choose(candidates, fit_fen=199, min_share_fen=200) is None


@settings(max_examples=200, deadline=None)
@given(
    tiers=tier_tables, count=st.integers(1, 40), extra=st.integers(0, 200_000), seed=st.integers()
)
def test_a_whole_campaign_never_pays_more_than_its_budget(tiers, count, extra, seed):
    """Draw every packet of a campaign: each pays ≥ the minimum, inside its tier when it
    has one, never more than fits; the budget always covers the rest and is never exceeded."""
    tiers = normalised(tiers)
    min_share = 200
    budget = count * min_share + extra
    rng = Seeded(seed)
    left_budget, left_count = budget, count
    while left_count:
        fit = largest_fitting_amount(
            remaining_budget_fen=left_budget, remaining_count=left_count, min_share_fen=min_share
        )
        assert fit >= min_share
        picked = choose(draw_candidates(tiers, rng), fit_fen=fit, min_share_fen=min_share)
        assert picked is not None
        tier_index, amount = picked
        assert min_share <= amount <= fit
        if tier_index is not None:
            assert tiers[tier_index].min_fen <= amount <= tiers[tier_index].max_fen
        left_budget -= amount
        left_count -= 1
    assert 0 <= left_budget <= budget


def test_the_pace_line_spreads_wins_over_the_window():
    common = {"count": 1_000, "starts_ms": 0, "ends_ms": 100_000, "burst": 10}
    assert pace_allowance(now_ms=-5, **common) == 10
    assert pace_allowance(now_ms=0, **common) == 10
    assert pace_allowance(now_ms=50_000, **common) == 510
    assert pace_allowance(now_ms=99_999, **common) == 1_000  # never more than the count
    assert pace_allowance(now_ms=50_000, **{**common, "burst": 0}) == 500
