"""Wallet display rules shared by every page that shows money landing in change."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

CREDIT_LINES = (
    gettext_noop("已存入零钱，可用于发红包"),
    gettext_noop("已存入零钱，可用于消费"),
    gettext_noop("已存入零钱，可用于转账"),
    gettext_noop("已存入零钱，可用于提现"),
)

CREDIT_PENDING = gettext_noop("入账中…")


def credit_line(seed: int) -> str:
    """SPEC §2: after a share or a win is credited its result page rotates these lines."""
    return _(CREDIT_LINES[seed % len(CREDIT_LINES)])


def credit_state_line(*, credited: bool, seed: int) -> str:
    """SPEC §4: "入账中…" until the money is in change, then the rotating line."""
    return credit_line(seed) if credited else _(CREDIT_PENDING)
