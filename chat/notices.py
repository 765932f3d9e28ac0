"""Notices (提醒) stored as a key and its parameters, rendered in each viewer's language.

A notice message keeps `notice_key` and `notice_params` (JSON) besides its `text`; the
text is the notice rendered in the site's language when it was posted, for the admin, the
search and as the fallback of rows from before keys (and of an unknown key). Every reader
— the history API, the room page, the room list preview and the websocket events — asks
`notice_text` for the active language instead of reading `text`, so an English viewer
reads English whatever language the poster used.

Parameters hold what a notice names (people's names are frozen when it is posted, as the
text was). `names` is a list, joined per language; past `NOTICE_NAMES` names the rest
become "等N人" (`count`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, gettext_noop

PACKET_CLAIMED = "packet_claimed"
PACKET_FINISHED = "packet_finished"
MEMBERS_INVITED = "members_invited"

# One template per key: a key is never renamed nor its parameters changed (rows keep them).
NOTICE_TEMPLATES: dict[str, str] = {
    PACKET_CLAIMED: gettext_noop("%(name)s领取了你的红包"),
    PACKET_FINISHED: gettext_noop("你的红包已被领完"),
    MEMBERS_INVITED: gettext_noop("%(actor)s邀请%(names)s加入了群聊"),
}

# How many invited names a "X邀请Y、Z加入了群聊" notice spells out before "等N人".
NOTICE_NAMES = 10


def _names(names: list[Any], count: int | None) -> str:
    # Translators: the separator between the names in "X邀请Y、Z加入了群聊".
    joined = gettext("、").join(str(name) for name in names)
    if count is not None and count > len(names):
        return gettext("%(names)s等%(count)d人") % {"names": joined, "count": count}
    return joined


def notice_text(key: str, params: Mapping[str, Any] | None, *, fallback: str = "") -> str:
    """The notice `key` with `params` in the active language; `fallback` (the stored
    text) when there is no key, the key is unknown or its parameters do not fit."""
    template = NOTICE_TEMPLATES.get(key or "")
    if template is None:
        return fallback
    values = dict(params or {})
    if isinstance(values.get("names"), list):
        values["names"] = _names(values["names"], values.get("count"))
    try:
        return gettext(template) % values
    except (KeyError, TypeError, ValueError):
        return fallback


def localize_message(message: dict[str, Any]) -> dict[str, Any]:
    """Re-render a message dict's notice text in the active language (in place)."""
    notice = message.get("notice")
    if isinstance(notice, Mapping) and notice.get("key"):
        message["text"] = notice_text(
            str(notice["key"]), notice.get("params"), fallback=message.get("text") or ""
        )
    return message


def localize_event(event: dict[str, Any]) -> dict[str, Any]:
    """A websocket event as one connection's viewer reads it: its message's notice, and
    a `notice` event's `text`, in the active language. The event is copied only when
    something is rendered (the in-memory layer hands every consumer the same dict)."""
    message = event.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("notice"), Mapping):
        return event
    event = copy.deepcopy(event)
    localize_message(event["message"])
    if event.get("type") == "notice":
        event["text"] = event["message"]["text"]
    return event
