"""Extension points other apps plug into without chat importing them.

Every message dict a viewer receives (the history API, the room page, websocket events
carrying a `message`) passes through `decorate_messages`. The red packet app registers a
decorator that adds a per-viewer `packet` summary (opened / finished / expired) to
packet messages; chat itself registers none.

A decorator receives the list of message dicts (as `MessageSerializer` shapes them) and
the viewing user, and changes the dicts in place. It should look its data up in bulk
(one query or cache round trip for the whole list), since history pages hold many
messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redpacket.accounts.models import User

MessageDecorator = Callable[[list[dict[str, Any]], "User"], None]

message_decorators: list[MessageDecorator] = []


def register_message_decorator(decorator: MessageDecorator) -> MessageDecorator:
    """Add a decorator (idempotent; usable as a function decorator)."""
    if decorator not in message_decorators:
        message_decorators.append(decorator)
    return decorator


def decorate_messages(messages: list[dict[str, Any]], viewer: User) -> list[dict[str, Any]]:
    """Let every registered decorator add its per-viewer fields; returns the same list."""
    if messages:
        for decorator in message_decorators:
            decorator(messages, viewer)
    return messages
