"""The pure rules: send limits and their texts, durations (no database)."""

import pytest

from redpacket.packets.rules import ClaimRow, Limits, best_luck, format_duration, send_errors

LIMITS = Limits()


def errors(**overrides):
    args = dict(
        kind="lucky",
        count=5,
        total_fen=1_000,
        share_fen=None,
        greeting="",
        room_is_direct=False,
        member_count=10,
        limits=LIMITS,
    )
    args.update(overrides)
    return send_errors(**args)


def test_a_valid_lucky_packet_has_no_errors():
    assert errors() == {}


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"count": 0}, "count", "红包个数至少为1个"),
        ({"count": None}, "count", "红包个数至少为1个"),
        ({"count": 101, "member_count": 500}, "count", "红包个数不可超过100个"),
        ({"count": 11}, "count", "红包个数不可超过群人数"),
        ({"total_fen": 4}, "total_fen", "单个红包金额不可低于0.01元"),
        ({"total_fen": 5 * 20_000 + 1}, "total_fen", "单个红包金额不可超过200元"),
        ({"total_fen": None}, "total_fen", "请填写总金额"),
        ({"kind": "normal", "share_fen": 0}, "share_fen", "单个红包金额不可低于0.01元"),
        ({"kind": "normal", "share_fen": 20_001}, "share_fen", "单个红包金额不可超过200元"),
        ({"greeting": "字" * 26}, "greeting", "祝福语不可超过25个字"),
        ({"room_is_direct": True, "count": 1}, "kind", "单聊只能发普通红包"),
        (
            {"room_is_direct": True, "kind": "normal", "share_fen": 100, "count": 2},
            "count",
            "单聊红包个数只能为1个",
        ),
        ({"kind": "gold"}, "kind", "红包类型无效"),
    ],
)
def test_each_limit_has_its_message(overrides, field, text):
    assert errors(**overrides)[field] == text


def test_the_edges_are_allowed():
    assert errors(count=100, total_fen=100, member_count=100) == {}
    assert errors(count=100, total_fen=100 * 20_000, member_count=100) == {}
    assert errors(kind="normal", share_fen=1, count=1) == {}
    assert errors(kind="normal", share_fen=20_000, count=1) == {}
    assert errors(greeting="字" * 25) == {}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1秒"),
        (42, "42秒"),
        (59, "59秒"),
        (60, "1分钟"),
        (3599, "59分钟"),
        (3600, "1小时"),
        (86400, "24小时"),
    ],
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_best_luck_is_the_largest_share_and_on_a_tie_the_earliest():
    rows = [ClaimRow(7, 100, 3.0, 1), ClaimRow(8, 100, 1.0, 0), ClaimRow(9, 99, 0.5, 2)]
    assert best_luck(rows) == 8
    assert best_luck([ClaimRow(1, 5, 1.0, 0), ClaimRow(2, 6, 2.0, 1)]) == 2
    assert best_luck([]) is None
