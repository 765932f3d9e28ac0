"""Websocket authentication: the browser's session cookie, or a one-use ticket
(`?ticket=`, from `POST /api/auth/ws-ticket`) for API clients (SPEC §7, API.md Websocket).

A long-lived API token in the URL (`?token=`) is refused outright, before the handshake:
URLs end up in proxy and server logs, so a token there leaks (issue #16 finding 2).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from redpacket.accounts.services import ws_ticket_redeem


async def _refuse(receive, send) -> None:
    """Turn the handshake down (an HTTP 403 to the client), as a consumer's close does."""
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close"})


class TicketAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from `?ticket=` when given; otherwise the session decides."""

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return await _refuse(receive, send)
        ticket = query.get("ticket", [None])[0]
        if ticket is not None:
            user = await database_sync_to_async(ws_ticket_redeem)(ticket=ticket)
            if user is None:
                return await _refuse(receive, send)
            scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


def TicketOrSessionAuthMiddlewareStack(inner):
    # Session first (fills scope["user"], anonymous if no cookie), a ticket overrides it.
    return AuthMiddlewareStack(TicketAuthMiddleware(inner))
