"""Reads of the accounts app that other apps share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redpacket.accounts.models import User


def user_data(user: User) -> dict[str, Any]:
    """A user as every API answer, cached fact and websocket event shows one.

    The one place this shape is spelled: `UserSerializer` renders through it, and the
    services and caches call it directly rather than depending on an API serializer.
    """
    return {
        "id": user.pk,
        "username": str(user.username),
        "display_name": str(user.display_name),
        "avatar_colour": user.avatar_colour,
    }
