"""The rules a shake campaign must satisfy before any money moves (SPEC §5), as plain
functions with no database: the API, the admin and the tests all validate through here.

Each returns field → message (empty: valid), in API.md's `fields` shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.translation import gettext as _

from redpacket.kernel.money import yuan_plain
from shake.draw import PPM, TierRange, largest_fitting_amount

NAME_MAX = 40
GREETING_MAX = 25
MAX_COUNT = 10_000_000
MAX_TIERS = 20


def tier_errors(
    tiers: Sequence[TierRange], *, budget_fen: int, count: int, min_share_fen: int
) -> str | None:
    """What is wrong with a tier table (one message naming the tier), or None.

    Every tier: chance ≥ 1 ppm, 0 < min ≤ max, min ≥ the minimum share; together
    1,000,000 ppm; and at least one tier the budget can pay at the start (R − (n−1)·m).
    A tier the budget cannot pay is allowed: the draw skips it (SPEC §5), so the default
    table (with its ¥618) suits a ¥100 campaign too (issue #16 finding 10).
    """
    if not tiers:
        return _("至少需要一档金额")
    if len(tiers) > MAX_TIERS:
        return _("最多%(max)d档金额") % {"max": MAX_TIERS}
    for number, tier in enumerate(tiers, start=1):
        if tier.probability_ppm < 1 or tier.probability_ppm > PPM:
            return _("第%(n)d档：概率须在1到1000000之间（百万分之一为单位）") % {"n": number}
        if tier.min_fen < 1 or tier.max_fen < 1:
            return _("第%(n)d档：金额必须大于0") % {"n": number}
        if tier.min_fen > tier.max_fen:
            return _("第%(n)d档：最低金额不能高于最高金额") % {"n": number}
        if tier.min_fen < min_share_fen:
            return _("第%(n)d档：金额不能低于最小红包%(min)s元") % {
                "n": number,
                "min": yuan_plain(min_share_fen),
            }
    total = sum(tier.probability_ppm for tier in tiers)
    if total != PPM:
        return _("各档概率之和必须为100%%（1000000），现为%(total)d") % {"total": total}
    first_fit = largest_fitting_amount(
        remaining_budget_fen=budget_fen, remaining_count=count, min_share_fen=min_share_fen
    )
    cheapest = min(tier.min_fen for tier in tiers)
    if cheapest > first_fit:
        return _("没有一档金额在预算之内：最低一档%(amount)s元，预算最多可付%(fit)s元") % {
            "amount": yuan_plain(cheapest),
            "fit": yuan_plain(max(first_fit, 0)),
        }
    return None


def campaign_errors(
    *,
    name: str,
    greeting: str,
    budget_fen: int,
    count: int,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    min_share_fen: int,
    per_user_cap: int,
    win_chance_ppm: int,
    tiers: Sequence[TierRange],
) -> dict[str, str]:
    """Field → message for everything wrong with a campaign about to be created."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = _("请填写活动名称")
    elif len(name) > NAME_MAX:
        errors["name"] = _("活动名称不可超过%(max)d个字") % {"max": NAME_MAX}
    if len(greeting) > GREETING_MAX:
        errors["greeting"] = _("祝福语不可超过%(max)d个字") % {"max": GREETING_MAX}
    if min_share_fen < 1:
        errors["min_share_fen"] = _("最小红包金额必须大于0")
    if count < 1:
        errors["count"] = _("红包个数至少为1个")
    elif count > MAX_COUNT:
        errors["count"] = _("红包个数不可超过%(max)d个") % {"max": MAX_COUNT}
    if budget_fen < 1:
        errors["budget_fen"] = _("预算必须大于0")
    elif (
        "count" not in errors
        and "min_share_fen" not in errors
        and budget_fen < count * min_share_fen
    ):
        errors["budget_fen"] = _("预算不足：每个红包至少%(min)s元，共需%(total)s元") % {
            "min": yuan_plain(min_share_fen),
            "total": yuan_plain(count * min_share_fen),
        }
    if ends_at <= starts_at:
        errors["ends_at"] = _("结束时间必须晚于开始时间")
    elif ends_at <= now:
        errors["ends_at"] = _("结束时间必须晚于现在")
    if per_user_cap < 1:
        errors["per_user_cap"] = _("每人中奖次数至少为1次")
    if not 1 <= win_chance_ppm <= PPM:
        errors["win_chance_ppm"] = _("中奖概率须在1到1000000之间（百万分之一为单位）")
    if not errors:
        problem = tier_errors(
            tiers, budget_fen=budget_fen, count=count, min_share_fen=min_share_fen
        )
        if problem:
            errors["tiers"] = problem
    return errors
