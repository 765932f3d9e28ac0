"""The shake draw (SPEC §5): which tier a winning shake falls in, how much it pays, and
how fast a campaign may hand out its packets. Pure functions, no Django.

A tier table is a list of (probability in parts per million, min fen, max fen); the
probabilities sum to 1,000,000 and a tier whose min equals its max pays a fixed amount
(the ¥618 easter egg). Randomness comes from an injectable source with `randbelow(n)`;
the default is the `secrets` module (the operating system's CSPRNG), so nobody can
predict a draw from public data, and a test can force any tier.

Budget rule: with R fen and n packets left, a win may pay at most R − (n−1)·m (m: the
minimum share), so every later packet can still pay m. A tier whose amount no longer
fits is skipped: the drawn amount is kept when it fits, else the tier pays the largest
amount that fits when that is still inside its range, else the next cheaper tier is
tried; when no tier fits any more the win pays the minimum share. Never more than fits.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

PPM = 1_000_000  # probabilities are integers in parts per million


class RandomSource(Protocol):
    def randbelow(self, exclusive_upper_bound: int, /) -> int: ...


@dataclass(frozen=True)
class TierRange:
    """One row of a tier table: chance in ppm, inclusive amount range in fen."""

    probability_ppm: int
    min_fen: int
    max_fen: int

    @property
    def fixed(self) -> bool:
        return self.min_fen == self.max_fen


# SPEC §5: 85% ¥2–5, 10% ¥5–20, 4.99% ¥20–50, 0.01% exactly ¥618.
DEFAULT_TIERS: tuple[TierRange, ...] = (
    TierRange(850_000, 200, 500),
    TierRange(100_000, 500, 2_000),
    TierRange(49_900, 2_000, 5_000),
    TierRange(100, 61_800, 61_800),
)


@dataclass(frozen=True)
class Candidate:
    """A possible payout handed to the atomic reservation: tier `index` pays `amount_fen`
    if it fits, else anything down to `min_fen` that fits."""

    index: int
    min_fen: int
    amount_fen: int


def tier_for_roll(tiers: Sequence[TierRange], roll: int) -> int:
    """The index of the tier a uniform roll in [0, PPM) lands in (cumulative table)."""
    if not 0 <= roll < PPM:
        raise ValueError(f"roll {roll} is outside [0, {PPM})")
    edge = 0
    for index, tier in enumerate(tiers):
        edge += tier.probability_ppm
        if roll < edge:
            return index
    raise ValueError("the tier probabilities do not sum to 1,000,000")


def draw_tier(tiers: Sequence[TierRange], rng: RandomSource = secrets) -> int:
    """Pick a tier index with the table's probabilities."""
    return tier_for_roll(tiers, rng.randbelow(PPM))


def draw_amount(tier: TierRange, rng: RandomSource = secrets) -> int:
    """A uniform amount in the tier's inclusive range (the fixed amount when min = max)."""
    return tier.min_fen + rng.randbelow(tier.max_fen - tier.min_fen + 1)


def draw_candidates(tiers: Sequence[TierRange], rng: RandomSource = secrets) -> list[Candidate]:
    """The drawn tier with an amount in its range, then every cheaper tier (lower minimum),
    most generous first, each with its own drawn amount: the fallbacks for a budget that
    can no longer pay the drawn tier."""
    drawn = draw_tier(tiers, rng)
    primary = tiers[drawn]
    candidates = [Candidate(drawn, primary.min_fen, draw_amount(primary, rng))]
    cheaper = sorted(
        (i for i, tier in enumerate(tiers) if tier.min_fen < primary.min_fen),
        key=lambda i: (-tiers[i].min_fen, -tiers[i].max_fen, i),
    )
    candidates += [Candidate(i, tiers[i].min_fen, draw_amount(tiers[i], rng)) for i in cheaper]
    return candidates


def largest_fitting_amount(
    *, remaining_budget_fen: int, remaining_count: int, min_share_fen: int
) -> int:
    """The most the next win may pay so that every other remaining packet can still pay
    the minimum share: R − (n−1)·m. Below m means the campaign cannot pay another win."""
    if remaining_count < 1:
        return 0
    return remaining_budget_fen - (remaining_count - 1) * min_share_fen


def choose(
    candidates: Sequence[Candidate], *, fit_fen: int, min_share_fen: int
) -> tuple[int | None, int] | None:
    """The payout for a win given the largest amount that fits: (tier index or None for
    the minimum-share fallback, amount). None when not even the minimum share fits.

    The same rule runs inside the Redis script; this is its reference and the in-process
    store's implementation, and the database transaction re-applies it to its own truth.
    """
    if fit_fen < min_share_fen:
        return None
    for candidate in candidates:
        if candidate.amount_fen <= fit_fen:
            return candidate.index, candidate.amount_fen
        if candidate.min_fen <= fit_fen:
            return candidate.index, fit_fen  # clamped inside the tier's range
    return None, min_share_fen


def pace_allowance(*, count: int, starts_ms: int, ends_ms: int, now_ms: int, burst: int) -> int:
    """How many wins may have happened by `now` (SPEC §5 pacing): count × elapsed ÷
    duration, rounded down, plus the burst allowance; never more than `count`."""
    duration = ends_ms - starts_ms
    if duration <= 0:
        raise ValueError("a campaign ends after it starts")
    elapsed = min(max(now_ms - starts_ms, 0), duration)
    return min(count, count * elapsed // duration + max(burst, 0))
