"""Chat's websocket events: the room group, `message.new` and `invitation.new`.

Events leave only through `redpacket.kernel.events.publish_on_commit` (after commit, never
on rollback); the sender and the personal `user.<id>` group live there too, since wallet
credits use them and wallet knows nothing of chat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.data import invitation_data, message_data
from redpacket.kernel.events import FORWARD, publish_on_commit, user_group

if TYPE_CHECKING:
    from chat.models import Invitation, Message

__all__ = [
    "FORWARD",
    "publish_invitation_new",
    "publish_message_new",
    "publish_on_commit",
    "room_group",
    "user_group",
]


def room_group(room_id: int) -> str:
    """The group of every open connection to a room."""
    return f"room.{int(room_id)}"


def publish_message_new(message: Message) -> None:
    """`message.new {"message"}` to the room, or only to the recipient of a private notice.

    The message has the shape of `MessageSerializer` (as in the history API), before any
    per-viewer decoration: consumers apply `chat.hooks.decorate_messages` per connection.
    """
    group = (
        user_group(message.recipient_id)
        if message.recipient_id is not None
        else room_group(message.room_id)
    )
    publish_on_commit(group, {"type": "message.new", "message": message_data(message)})


def publish_invitation_new(invitation: Invitation) -> None:
    """`invitation.new {"invitation"}` to the invitee's own connections."""
    publish_on_commit(
        user_group(invitation.invitee_id),
        {"type": "invitation.new", "invitation": invitation_data(invitation)},
    )
