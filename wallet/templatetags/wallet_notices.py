"""`{% notice_state user as notice %}`: the wallet badge of every signed-in page."""

from __future__ import annotations

from typing import Any

from django import template

from wallet import selectors

register = template.Library()


@register.simple_tag
def notice_state(user: Any) -> selectors.NoticeState | None:
    if user is None or not user.is_authenticated:
        return None
    return selectors.notice_state(user=user)
