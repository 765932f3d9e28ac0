"""The product rules of SPEC §3 (limits) and §4 (what each page shows), as plain functions
with no database: the API, the pages and the tests all decide through these.

Texts are SPEC's Chinese, marked for translation; `{n}`-style values are filled in here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from redpacket.kernel.money import yuan_plain

# One rotation of credit lines for packet shares and shake wins alike.
from wallet.rules import CREDIT_LINES as CREDIT_LINES
from wallet.rules import credit_line as credit_line
from wallet.rules import credit_state_line as credit_state_line

LUCKY = "lucky"
NORMAL = "normal"
EXCLUSIVE = "exclusive"
KINDS = (LUCKY, NORMAL, EXCLUSIVE)
# Kinds with a fixed share amount (`share_fen`): 单个金额 / 金额 on the send page.
FIXED_SHARE_KINDS = (NORMAL, EXCLUSIVE)

ACTIVE = "active"
FINISHED = "finished"
EXPIRED = "expired"


@dataclass(frozen=True)
class Limits:
    """SPEC §3 limits (settings REDPACKET_*)."""

    max_count: int = 100
    min_share_fen: int = 1
    max_share_fen: int = 20_000
    greeting_max: int = 25
    default_greeting: str = "恭喜发财，大吉大利"


def send_error_texts(limits: Limits) -> dict[str, str]:
    """Every text `send_errors` may answer with, by name, in the active language. The send
    page hands them to its script, so the inline errors read exactly as the server's."""
    return {
        "kind_invalid": _("红包类型无效"),
        "kind_direct": _("单聊只能发普通红包"),
        "count_min": _("红包个数至少为1个"),
        "count_max": _("红包个数不可超过%(max)d个") % {"max": limits.max_count},
        "count_direct": _("单聊红包个数只能为1个"),
        "count_members": _("红包个数不可超过群人数"),
        "count_exclusive": _("专属红包个数只能为1个"),
        "to_user_required": _("请选择领取人"),
        "to_user_not_member": _("领取人不在本群"),
        "to_user_self": _("专属红包不能发给自己"),
        "total_required": _("请填写总金额"),
        "share_required": _("请填写单个金额"),
        "too_small": _("单个红包金额不可低于%(min)s元") % {"min": yuan_plain(limits.min_share_fen)},
        "too_big": _("单个红包金额不可超过%(max)s元")
        % {"max": yuan_plain(limits.max_share_fen).removesuffix(".00")},
        "greeting_max": _("祝福语不可超过%(max)d个字") % {"max": limits.greeting_max},
    }


def send_errors(
    *,
    kind: str,
    count: int | None,
    total_fen: int | None,
    share_fen: int | None,
    greeting: str,
    room_is_direct: bool,
    member_count: int,
    limits: Limits,
    to_user_id: int | None = None,
    sender_id: int | None = None,
    member_ids: Collection[int] = (),
) -> dict[str, str]:
    """Field → message for everything wrong with a packet about to be sent (empty: valid).

    An exclusive packet (group rooms only) is one share for `to_user_id`, a member of the
    room (`member_ids`) other than `sender_id`.

    static/js/redpacket-send.js mirrors these checks in the same order for the send page's
    inline errors (with the texts of `send_error_texts`); change both together."""
    errors: dict[str, str] = {}
    texts = send_error_texts(limits)

    if kind not in KINDS:
        errors["kind"] = texts["kind_invalid"]
        return errors
    if room_is_direct and kind != NORMAL:
        errors["kind"] = texts["kind_direct"]
    if count is None or count < 1:
        errors["count"] = texts["count_min"]
    elif count > limits.max_count:
        errors["count"] = texts["count_max"]
    elif room_is_direct and count != 1:
        errors["count"] = texts["count_direct"]
    elif kind == EXCLUSIVE and count != 1:
        errors["count"] = texts["count_exclusive"]
    elif not room_is_direct and count > member_count:
        errors["count"] = texts["count_members"]
    if kind == EXCLUSIVE and not room_is_direct:
        if to_user_id is None:
            errors["to_user_id"] = texts["to_user_required"]
        elif to_user_id == sender_id:
            errors["to_user_id"] = texts["to_user_self"]
        elif to_user_id not in member_ids:
            errors["to_user_id"] = texts["to_user_not_member"]

    if kind == LUCKY:
        if total_fen is None:
            errors["total_fen"] = texts["total_required"]
        elif count and "count" not in errors:
            if total_fen < count * limits.min_share_fen:
                errors["total_fen"] = texts["too_small"]
            elif total_fen > count * limits.max_share_fen:
                errors["total_fen"] = texts["too_big"]
        elif total_fen < limits.min_share_fen:
            errors["total_fen"] = texts["too_small"]
    else:
        if share_fen is None:
            errors["share_fen"] = texts["share_required"]
        elif share_fen < limits.min_share_fen:
            errors["share_fen"] = texts["too_small"]
        elif share_fen > limits.max_share_fen:
            errors["share_fen"] = texts["too_big"]
    if len(greeting) > limits.greeting_max:
        errors["greeting"] = texts["greeting_max"]
    return errors


def switch_kind(*, to_kind: str, count: int | None, amount_fen: int | None) -> int | None:
    """The send page's switch keeps what was typed (SPEC §4): to normal, 单个金额 = 总金额 ÷
    个数 rounded down to the fen; to lucky, 总金额 = 单个金额 × 个数. `amount_fen` is the
    amount field being left; None when there is nothing to carry over.
    static/js/redpacket-send.js does the same in the browser. An exclusive packet's 金额
    is a fixed share like 单个金额: it switches as a normal packet's does."""
    if amount_fen is None:
        return None
    if not count or count < 1:
        return amount_fen
    if to_kind in FIXED_SHARE_KINDS:
        return amount_fen // count
    return amount_fen * count


def effective_status(status: str, expires_at_ts: float, now_ts: float) -> str:
    """A packet past its TTL is expired the moment it passes, even before the sweep refunds."""
    if status == ACTIVE and now_ts >= expires_at_ts:
        return EXPIRED
    return status


def open_view(
    *,
    is_sender: bool,
    count: int,
    status: str,
    my_amount: int | None,
    for_someone_else: bool = False,
) -> str:
    """What the open (拆) page shows the viewer — API `view`: open / opened / finished /
    expired / waiting / exclusive. SPEC §4's open-page table; `for_someone_else`: an
    exclusive packet whose chosen member is not the viewer."""
    if my_amount is not None:
        return "opened"
    if status == EXPIRED:
        return "expired"
    # The sender of a count-1 packet never sees its open page ("—" in the finished row):
    # they go to the result page, also once the recipient has taken it.
    if is_sender and count == 1:
        return "waiting"
    if for_someone_else:
        return "exclusive"
    if status == FINISHED:
        return "finished"
    return "open"


def exclusive_label(to_name: str) -> str:
    """An exclusive packet's line, on its bubble for everyone in the room and on the open
    page of every member but the chosen one."""
    return _("专属于%(name)s的红包") % {"name": to_name}


def open_page(
    *,
    view: str,
    kind: str,
    count: int,
    is_sender: bool,
    sender_name: str,
    to_name: str = "",
) -> dict[str, Any]:
    """The texts and link of the open page for one cell of SPEC §4's table. `to_name`:
    the chosen member of an exclusive packet."""
    show_link_to_all = kind == LUCKY or is_sender
    if view == "exclusive":
        # Not theirs to open; the result page shows the room its one claim.
        return {
            "title": _("%(name)s的红包") % {"name": sender_name},
            "subtitle": exclusive_label(to_name),
            "show_open_button": False,
            "show_all_link": True,
        }
    if view == "open":
        if kind == LUCKY:
            subtitle = _("发了一个红包，金额随机")
            link = True
        else:
            subtitle = _("给你发了一个红包")
            link = is_sender and count > 1
        return {
            "title": _("%(name)s的红包") % {"name": sender_name},
            "subtitle": subtitle,
            "show_open_button": True,
            "show_all_link": link,
        }
    if view == "finished":
        return {
            "title": _("%(name)s的红包") % {"name": sender_name},
            "subtitle": _("手慢了，红包派完了"),
            "show_open_button": False,
            "show_all_link": show_link_to_all,
        }
    if view == "expired":
        return {
            "title": _("%(name)s的红包") % {"name": sender_name},
            "subtitle": _("该红包已超过24小时。如已领取，可在“我的红包”中查看"),
            "show_open_button": False,
            "show_all_link": show_link_to_all,
        }
    return {"title": "", "subtitle": "", "show_open_button": False, "show_all_link": True}


def format_duration(seconds: float) -> str:
    """ "{s}秒", "{m}分钟" or "{h}小时" as fits (SPEC §4 rule 4)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return ngettext("%(n)d秒", "%(n)d秒", seconds) % {"n": max(seconds, 1)}
    if seconds < 3600:
        minutes = seconds // 60
        return ngettext("%(n)d分钟", "%(n)d分钟", minutes) % {"n": minutes}
    hours = seconds // 3600
    return ngettext("%(n)d小时", "%(n)d小时", hours) % {"n": hours}


@dataclass(frozen=True)
class ClaimRow:
    user_id: int
    amount_fen: int
    opened_at_ts: float
    index: int


@dataclass
class ResultFacts:
    """Everything the result page rules need about one packet and one viewer."""

    kind: str
    count: int
    total_fen: int
    status: str  # effective status
    is_sender: bool
    my_amount: int | None
    claims: list[ClaimRow]
    created_at_ts: float
    finished_at_ts: float | None
    ttl_seconds: int
    to_name: str | None = None  # an exclusive packet's chosen member


@dataclass
class ResultPage:
    summary: str
    buttons: list[str] = field(default_factory=list)
    show_claims: bool = False
    best_luck_user_id: int | None = None
    claimed_count: int = 0
    claimed_fen: int = 0
    finished_in_seconds: int | None = None
    notes: list[str] = field(default_factory=list)


def best_luck(claims: list[ClaimRow]) -> int | None:
    """手气最佳: the largest share; on a tie, the earliest."""
    if not claims:
        return None
    return min(claims, key=lambda c: (-c.amount_fen, c.opened_at_ts, c.index)).user_id


def result_page(facts: ResultFacts) -> ResultPage:
    """SPEC §4 result page, rules 1–8 plus the expired and unfinished lines."""
    claimed_count = len(facts.claims)
    claimed_fen = sum(c.amount_fen for c in facts.claims)
    finished = facts.status == FINISHED
    expired = facts.status == EXPIRED
    page = ResultPage(summary="", claimed_count=claimed_count, claimed_fen=claimed_fen)
    values = {
        "n": facts.count,
        "x": claimed_count,
        "y": facts.count,
        "a": yuan_plain(claimed_fen),
        "b": yuan_plain(facts.total_fen),
        "total": yuan_plain(facts.total_fen),
    }

    if finished and facts.finished_at_ts is not None:
        page.finished_in_seconds = int(facts.finished_at_ts - facts.created_at_ts)
    # Rule 4 / 5 / 6 and the expired line.
    if finished:
        if facts.kind == LUCKY:
            duration = format_duration(page.finished_in_seconds or 0)
            if facts.is_sender:
                page.summary = _("%(n)d个红包共%(total)s元，%(duration)s被抢光") % {
                    **values,
                    "duration": duration,
                }
            else:
                page.summary = _("%(n)d个红包，%(duration)s被抢光") % {
                    **values,
                    "duration": duration,
                }
        else:
            page.summary = _("%(n)d个红包共%(total)s元") % values
    elif expired:
        if facts.is_sender:
            page.summary = _("该红包已过期。已领取%(x)d/%(y)d个，共%(a)s/%(b)s元") % values
        else:
            page.summary = _("该红包已过期。已领取%(x)d/%(y)d个") % values
    elif facts.count > 1:
        if facts.is_sender:
            page.summary = _("已领取%(x)d/%(y)d个，共%(a)s/%(b)s元") % values
        else:
            page.summary = _("领取%(x)d/%(y)d个") % values
    elif facts.kind == EXCLUSIVE:
        # The amount is the sender's to see until the chosen member opens it.
        if facts.is_sender:
            page.summary = _("红包金额%(total)s元，等待%(name)s领取") % {
                **values,
                "name": facts.to_name or "",
            }
        else:
            page.summary = _("等待%(name)s领取") % {"name": facts.to_name or ""}
    else:
        page.summary = _("红包金额%(total)s元，等待对方领取") % values

    # Rule 2 and 3: buttons.
    if facts.is_sender and not finished and not expired:
        page.buttons.append("continue_sending")
    if facts.my_amount is not None and not facts.is_sender:
        page.buttons.append("my_records")
    # The unfinished sender's refund line.
    if facts.is_sender and not finished and not expired:
        page.notes.append(
            _("未领取的红包，将于%(h)s后发起退款") % {"h": format_duration(facts.ttl_seconds)}
        )
    # Rule 7: the list shows for lucky packets, and for normal ones only to their sender;
    # an exclusive packet's one claim shows to the room (SPEC §3).
    page.show_claims = facts.kind in (LUCKY, EXCLUSIVE) or facts.is_sender
    # Rule 8: best luck on finished lucky packets only.
    if finished and facts.kind == LUCKY:
        page.best_luck_user_id = best_luck(facts.claims)
    return page


def record_state(status: str, claimed_count: int, count: int) -> str:
    """The state of a sent packet in 我的红包: 已领完 / 已过期 / {x}/{y}."""
    if status == FINISHED:
        return _("已领完")
    if status == EXPIRED:
        return _("已过期")
    return f"{claimed_count}/{count}"


def packet_total_fen(
    *, kind: str, count: int | None, total_fen: int | None, share_fen: int | None
) -> int | None:
    """What a packet about to be sent costs: the lucky total, or share × count."""
    if kind == LUCKY:
        return total_fen
    if share_fen is None or not count or count < 1:
        return None
    return share_fen * count


def pay_card_choice(*, balance_fen: int, cost_fen: int | None, card_ids: list[int]) -> int | None:
    """The pay sheet's choice (SPEC §4 Paying): None for change (零钱) when it covers the
    cost (or the cost is not known yet), else the newest bound card (the one just bound
    in the flow), else None again (the sheet then offers 添加银行卡).
    static/js/redpacket-pay.js makes the same choice as the amounts change."""
    if cost_fen is None or balance_fen >= cost_fen or not card_ids:
        return None
    return max(card_ids)
