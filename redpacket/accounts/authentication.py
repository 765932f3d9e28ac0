"""Authentication that costs no SQL on a warm cache.

The grab check (`GET /api/packets/<id>`) is the hottest read; API.md lets clients send a
token on every request and browsers a session cookie. Both resolve to a user through the
cache here, so that path touches only Redis (ARCHITECTURE "Grab").
"""

from __future__ import annotations

import hashlib

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from redpacket.accounts.models import User

USER_TTL = 300
TOKEN_TTL = 300


def _token_cache_key(key: str) -> str:
    # The token itself never becomes a cache key: a cache dump must not leak credentials.
    return "auth:tok:" + hashlib.sha256(key.encode()).hexdigest()


def _user_cache_key(user_id: int) -> str:
    return f"auth:user:{user_id}"


def cached_user(user_id: int) -> User | None:
    user = cache.get(_user_cache_key(user_id))
    if user is None:
        user = User.objects.filter(pk=user_id).first()
        if user is not None:
            cache.set(_user_cache_key(user_id), user, USER_TTL)
    return user


def forget_user(user_id: int) -> None:
    cache.delete(_user_cache_key(user_id))


def forget_token(key: str) -> None:
    cache.delete(_token_cache_key(key))


def user_for_token(key: str) -> User | None:
    """The active user a token belongs to, or None (also used by the websocket middleware)."""
    from rest_framework.authtoken.models import Token

    user_id = cache.get(_token_cache_key(key))
    if user_id is None:
        user_id = Token.objects.filter(key=key).values_list("user_id", flat=True).first()
        if user_id is None:
            return None
        cache.set(_token_cache_key(key), user_id, TOKEN_TTL)
    user = cached_user(user_id)
    if user is None or not user.is_active:
        return None
    return user


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):  # type: ignore[no-untyped-def]
        user = user_for_token(key)
        if user is None:
            raise AuthenticationFailed("Invalid token.")
        return (user, key)


class CachedModelBackend(ModelBackend):
    """Session users come from the cache too (the session itself is cached_db)."""

    def get_user(self, user_id):  # type: ignore[no-untyped-def]
        user = cached_user(int(user_id))
        return user if self.user_can_authenticate(user) else None
