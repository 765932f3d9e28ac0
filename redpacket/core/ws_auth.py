"""Websocket authentication: the browser's session cookie, or `?token=<key>` for API clients."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from redpacket.accounts.authentication import user_for_token


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from `?token=` when given; otherwise the session decides."""

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        token = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
        if token:
            user = await database_sync_to_async(user_for_token)(token)
            if user is not None:
                scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):
    # Session first (fills scope["user"], anonymous if no cookie), token overrides it.
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))
