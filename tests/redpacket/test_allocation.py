"""The allocation rule, property-tested (pure functions, no database)."""

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from redpacket.packets.allocation import (
    MAX_SHARE_FEN,
    lucky_bounds,
    lucky_share,
    lucky_shares,
    share_draw,
)

SECRET = b"test-secret"


@st.composite
def packets(draw):
    count = draw(st.integers(min_value=1, max_value=100))
    total = draw(st.integers(min_value=count, max_value=count * MAX_SHARE_FEN))
    return total, count, draw(st.integers(min_value=1, max_value=2**40))


@given(packets())
@settings(max_examples=400, deadline=None)
def test_shares_sum_to_the_total_each_within_the_double_average_bound(packet):
    total, count, packet_id = packet
    shares = lucky_shares(total_fen=total, count=count, secret=SECRET, packet_id=packet_id)
    assert len(shares) == count
    assert sum(shares) == total
    remaining = total
    for index, share in enumerate(shares):
        left = count - index
        assert 1 <= share <= MAX_SHARE_FEN
        if left > 1:
            assert share <= 2 * remaining // left  # never more than twice the remaining average
            # every later share can still get between 1 fen and the max
            assert left - 1 <= remaining - share <= (left - 1) * MAX_SHARE_FEN
        else:
            assert share == remaining  # the last takes all
        remaining -= share
    assert remaining == 0


@given(st.integers(min_value=1, max_value=100))
def test_edges_every_share_one_fen_or_every_share_the_max(count):
    assert lucky_shares(total_fen=count, count=count, secret=SECRET, packet_id=7) == [1] * count
    assert (
        lucky_shares(total_fen=count * MAX_SHARE_FEN, count=count, secret=SECRET, packet_id=7)
        == [MAX_SHARE_FEN] * count
    )


@given(packets())
@settings(max_examples=100, deadline=None)
def test_same_secret_and_id_give_the_same_shares_another_secret_others(packet):
    total, count, packet_id = packet
    first = lucky_shares(total_fen=total, count=count, secret=SECRET, packet_id=packet_id)
    again = lucky_shares(total_fen=total, count=count, secret=SECRET, packet_id=packet_id)
    assert first == again
    draws = [share_draw(SECRET, packet_id, i) for i in range(count)]
    other_draws = [share_draw(b"another-secret", packet_id, i) for i in range(count)]
    assert draws != other_draws


def test_another_secret_changes_the_split():
    split = lucky_shares(total_fen=100_000, count=10, secret=SECRET, packet_id=42)
    other = lucky_shares(total_fen=100_000, count=10, secret=b"other", packet_id=42)
    assert split != other


def test_bounds_refuse_an_impossible_split():
    import pytest

    with pytest.raises(ValueError):
        lucky_bounds(5, 6)
    with pytest.raises(ValueError):
        lucky_bounds(10 * MAX_SHARE_FEN + 1, 10)


def test_share_stays_within_bounds_for_extreme_draws():
    for draw in (0, 1, 2**256 - 1):
        low, high = lucky_bounds(1_000, 10)
        assert low <= lucky_share(1_000, 10, draw) <= high


def test_mean_of_each_share_index_is_within_two_percent_over_ten_thousand_packets():
    # ¥100 in 10 shares: the ¥200 cap never binds, so each index's expectation is total/count
    # (the standard error per index is ~0.6–0.8%; the stream is fixed, so the run is too).
    total, count, packets_run = 10_000, 10, 10_000
    by_index = [[] for _ in range(count)]
    for packet_id in range(1, packets_run + 1):
        for index, share in enumerate(
            lucky_shares(total_fen=total, count=count, secret=SECRET, packet_id=packet_id)
        ):
            by_index[index].append(share)
    expected = total / count
    for index, shares in enumerate(by_index):
        mean = statistics.fmean(shares)
        assert abs(mean - expected) / expected < 0.02, (index, mean)
