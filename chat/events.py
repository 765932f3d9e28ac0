"""Websocket events, sent only after the transaction that caused them commits.

Groups: `room.<id>` carries everything a room shows to all its members; `user.<id>`
carries a person's own events (notices only they see, wallet credits). Every event is a
JSON object with a `"type"` (API.md "Websocket"); consumers forward it unchanged.

`publish_on_commit` is the only way events leave: it waits for `transaction.on_commit`,
so a rolled-back transaction never announces anything. Outside a transaction (autocommit)
the callback runs at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

if TYPE_CHECKING:
    from chat.models import Message

logger = logging.getLogger(__name__)

# The channel-layer message type every consumer handles (`event_forward`).
FORWARD = "event.forward"


def room_group(room_id: int) -> str:
    """The group of every open connection to a room."""
    return f"room.{int(room_id)}"


def user_group(user_id: int) -> str:
    """The group of every open connection of one user, whichever room page it is on."""
    return f"user.{int(user_id)}"


def _send_now(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:  # no CHANNEL_LAYERS configured: nothing listens
        return
    send = async_to_sync(layer.group_send)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send(group, {"type": FORWARD, "event": event})
        return
    # Sync code running in a thread that also runs an event loop (a test driver, a
    # notebook) cannot block on async_to_sync there; send from a helper thread instead.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(send, group, {"type": FORWARD, "event": event}).result()


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send `event` to `group` once the current transaction commits (never if it rolls back).

    The event is turned into plain JSON data now, so a value that cannot be sent fails
    in the caller's code and not later in a callback. A channel layer that is down
    (Redis unreachable) is logged and does not fail the request that already committed.
    """
    if "type" not in event:
        raise ValueError("an event needs a 'type'")
    payload = json.loads(json.dumps(event, cls=DjangoJSONEncoder))
    transaction.on_commit(lambda: _send_now(group, payload), robust=True)


def publish_message_new(message: Message) -> None:
    """`message.new {"message"}` to the room, or only to the recipient of a private notice.

    The message has the shape of `MessageSerializer` (as in the history API), before any
    per-viewer decoration: consumers apply `chat.hooks.decorate_messages` per connection.
    """
    from chat.api.serializers import message_data

    group = (
        user_group(message.recipient_id)
        if message.recipient_id is not None
        else room_group(message.room_id)
    )
    publish_on_commit(group, {"type": "message.new", "message": message_data(message)})
