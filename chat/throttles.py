"""The per-user rate limit on posting messages, shared by the API and the websocket."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from rest_framework.throttling import UserRateThrottle

if TYPE_CHECKING:
    from redpacket.accounts.models import User


class ChatMessageThrottle(UserRateThrottle):
    """`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["chat"]` messages per user (THROTTLE_CHAT)."""

    scope = "chat"


def message_send_allowed(user: User) -> bool:
    """Whether a websocket `message.send` fits the user's budget (the same one the API uses).

    Blocking (it talks to the cache): call it from sync code, e.g. `database_sync_to_async`.
    """
    throttle = ChatMessageThrottle()
    return throttle.allow_request(SimpleNamespace(user=user), None)  # type: ignore[arg-type]
