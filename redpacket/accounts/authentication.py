"""Authentication that costs no SQL on a warm cache.

The grab check (`GET /api/packets/<id>`) is the hottest read; API.md lets clients send a
token on every request and browsers a session cookie. Both resolve to a user through the
cache here, so that path touches only Redis (ARCHITECTURE "Grab").

A token is cached by its digest with its expiry and the password mark it was issued
under; the user comes from the user cache, which every save of the user clears. So an
expired token, a token of a changed password and a deleted token stop working at once
(issue #16 finding 2), not when a cache entry ages out.

One cache round trip per request: a token's owner never changes, so each process
remembers digest → user id and reads the token's facts and its user together (one MGET);
the facts read in that same trip still decide whether the token is alive.
"""

from __future__ import annotations

import hashlib
import time

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.utils.crypto import constant_time_compare
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from redpacket.accounts.models import ApiToken, User

USER_TTL = 300
TOKEN_TTL = 300


def token_digest(key: str) -> str:
    """What is stored and cached for a token: never the key itself (a database or cache
    dump must not leak credentials)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _token_cache_key(digest: str) -> str:
    return "auth:tok:" + digest


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


def forget_token(digest: str) -> None:
    cache.delete(_token_cache_key(digest))


def password_mark(user: User) -> str:
    """Changes whenever the user's password does (Django's session auth hash)."""
    return user.get_session_auth_hash()


# digest → user id: immutable facts (a token is issued to one user and never moves), so
# a process may keep them; whether the token still lives is read from the cache each time.
_OWNERS: dict[str, int] = {}
_OWNERS_MAX = 100_000


def _token_facts(
    digest: str, facts: tuple[int, float, str] | None = None
) -> tuple[int, float, str] | None:
    """(user id, expiry as a timestamp, password mark) of a stored token, cached. `facts`:
    what a read of the cache already found."""
    if facts is None:
        facts = cache.get(_token_cache_key(digest))
    if facts is None:
        row = (
            ApiToken.objects.filter(digest=digest)
            .values_list("user_id", "expires_at", "password_mark")
            .first()
        )
        if row is None:
            return None
        user_id, expires_at, mark = row
        facts = (user_id, expires_at.timestamp(), mark)
        ttl = min(TOKEN_TTL, int(facts[1] - time.time()))
        if ttl > 0:
            cache.set(_token_cache_key(digest), facts, ttl)
    return facts


def user_for_token(key: str) -> User | None:
    """The active user a live token belongs to, or None: unknown, revoked, expired, or
    issued before the user's last password change."""
    if not isinstance(key, str) or not key:
        return None
    digest = token_digest(key)
    owner = _OWNERS.get(digest)
    user: User | None = None
    if owner is None:
        facts = _token_facts(digest)
    else:
        token_key, user_key = _token_cache_key(digest), _user_cache_key(owner)
        found = cache.get_many([token_key, user_key])
        facts = _token_facts(digest, found.get(token_key))
        user = found.get(user_key)
    if facts is None:
        return None
    user_id, expires_ts, mark = facts
    if expires_ts <= time.time():
        return None
    if owner is None:
        if len(_OWNERS) >= _OWNERS_MAX:
            _OWNERS.clear()
        _OWNERS[digest] = user_id
    if user is None or user.pk != user_id:
        user = cached_user(user_id)
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(mark, password_mark(user)):
        return None
    return user


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` against ApiToken (digests, expiry, password mark)."""

    def authenticate_credentials(self, key):
        user = user_for_token(key)
        if user is None:
            raise AuthenticationFailed("Invalid token.")
        return (user, key)


class CachedModelBackend(ModelBackend):
    """Session users come from the cache too (the session itself is cached_db)."""

    def get_user(self, user_id):
        user = cached_user(int(user_id))
        return user if self.user_can_authenticate(user) else None
