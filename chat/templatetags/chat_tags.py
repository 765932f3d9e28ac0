"""Display helpers for chat templates: WeChat-style times and avatars."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from redpacket.accounts.models import AVATAR_COLOURS

register = template.Library()


@register.filter
def avatar_class(colour: str) -> str:
    """An avatar's colour as its CSS class (`avatar-c0` …): the Content-Security-Policy
    allows no inline style attributes, and the palette is small and fixed."""
    try:
        return f"avatar-c{AVATAR_COLOURS.index(colour)}"
    except ValueError:
        return "avatar-c0"


# Marked for extraction; translated when shown.
_WEEKDAYS = (
    gettext_noop("星期一"),
    gettext_noop("星期二"),
    gettext_noop("星期三"),
    gettext_noop("星期四"),
    gettext_noop("星期五"),
    gettext_noop("星期六"),
    gettext_noop("星期日"),
)


@register.filter
def chat_time(value: dt.datetime | None) -> str:
    """Today "14:05", yesterday "昨天", this week "星期三", older "24/1/5" (local time)."""
    if not value:
        return ""
    local = timezone.localtime(value)
    today = timezone.localdate()
    days = (today - local.date()).days
    if days <= 0:
        return local.strftime("%H:%M")
    if days == 1:
        return _("昨天")
    if days < 7:
        return _(_WEEKDAYS[local.weekday()])
    return f"{local:%y}/{local.month}/{local.day}"
