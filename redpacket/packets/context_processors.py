"""Links the red packet app adds to other apps' pages (chat does not depend on it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse


def packet_links(request: HttpRequest) -> dict[str, Any]:
    """The chat room's "+" → 红包 link (`packet_send_url` in chat/_plus_menu.html)."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == "chat:room" and "room_id" in match.kwargs:
        return {"packet_send_url": reverse("redpacket:send", args=[match.kwargs["room_id"]])}
    return {}
