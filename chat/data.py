"""The plain data shapes of a message and an invitation, shared by the API, the pages
and the events.

Services and websocket events call `message_data` directly; `MessageSerializer` renders
through it, so the API and the events cannot drift apart, and services do not depend on
an API serializer.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from chat.notices import notice_text
from redpacket.accounts.selectors import user_data

if TYPE_CHECKING:
    from chat.models import Invitation, Message


def _utc_iso(value: dt.datetime) -> str:
    # As DRF's DateTimeField(default_timezone=UTC) writes it: ISO 8601, "Z" for UTC.
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def message_text(message: Message) -> str:
    """What a message says in the active language: a notice with a key is rendered from
    it (`chat.notices`); anything else, and older notices, is its stored text."""
    if message.notice_key:
        return notice_text(message.notice_key, message.notice_params, fallback=str(message.text))
    return str(message.text)


def message_data(message: Message) -> dict[str, Any]:
    """The undecorated dict of one message (as the history API and events carry it).
    `sender` is null for system notices; `recipient_id` is set on a notice only its
    recipient sees. Decorators (`chat.hooks`) may add fields such as `packet`."""
    sender = message.sender
    return {
        "id": message.pk,
        "room_id": message.room_id,
        "kind": str(message.kind),
        "sender": user_data(sender) if sender is not None else None,
        "text": message_text(message),
        "packet_id": message.packet_id,
        "recipient_id": message.recipient_id,
        "created_at": _utc_iso(message.created_at) if message.created_at is not None else None,
        # Lets each websocket connection render the notice in its viewer's language.
        "notice": (
            {"key": message.notice_key, "params": message.notice_params}
            if message.notice_key
            else None
        ),
    }


def invitation_data(invitation: Invitation, *, member_count: int | None = None) -> dict[str, Any]:
    """A pending invitation as its invitee sees it (`GET /api/invitations`,
    `invitation.new`): the group, who invited, and when."""
    room = invitation.room
    if member_count is None:
        member_count = getattr(invitation, "member_count", None)
    if member_count is None:
        member_count = room.memberships.count()
    return {
        "id": invitation.pk,
        "room": {"id": room.pk, "name": str(room.name), "member_count": member_count},
        "inviter": user_data(invitation.inviter),
        "created_at": _utc_iso(invitation.created_at),
    }
