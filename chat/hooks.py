"""Extension points other apps plug into without chat importing them.

Every message dict a viewer receives (the history API, the room page, websocket events
carrying a `message`) passes through `decorate_messages`. The red packet app registers a
decorator that adds a per-viewer `packet` summary (opened / finished / expired) to
packet messages; chat itself registers none.

A decorator receives the list of message dicts (as `MessageSerializer` shapes them) and
the viewing user, and changes the dicts in place. It should look its data up in bulk
(one query or cache round trip for the whole list), since history pages hold many
messages.

When one event fans out to many connections (a packet message to a room of 500), each
connection decorates its own copy. `shared_lookups()` then returns one dict per event
per process, so a decorator can keep there what does not depend on the viewer (a
packet's state) and do its lookup once instead of once per connection.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


_shared: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "chat_shared_lookups", default=None
)


def shared_lookups() -> dict[Any, Any] | None:
    """Viewer-independent lookups of the event being fanned out, or None outside one."""
    return _shared.get()


@contextmanager
def sharing_lookups(store: dict[Any, Any]) -> Iterator[None]:
    """Run decorators with `store` as the event's shared lookups."""
    token = _shared.set(store)
    try:
        yield
    finally:
        _shared.reset(token)
