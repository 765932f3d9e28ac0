"""Account writes: registration, API tokens and websocket tickets."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from redpacket.accounts.authentication import (
    cached_user,
    forget_token,
    password_mark,
    token_digest,
)
from redpacket.accounts.models import ApiToken, User
from redpacket.kernel.errors import InvalidInput


def _username_taken() -> InvalidInput:
    message = _("用户名已被占用")
    return InvalidInput(message, code="username_taken", fields={"username": message})


def user_register(*, username: str, password: str, display_name: str = "") -> User:
    """Create a user with a usable password; refuses a taken name or a weak password."""
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise _username_taken()
    candidate = User(username=username, display_name=display_name.strip() or username)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise InvalidInput(
            exc.messages[0], code="weak_password", fields={"password": exc.messages[0]}
        ) from exc
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:  # lost a race for the same name
        raise _username_taken() from exc
    return candidate


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: the key is shown to its owner once and never stored."""

    key: str
    expires_at: datetime


def _new_token(user: User, now: datetime) -> tuple[str, ApiToken]:
    key = secrets.token_hex(20)
    return key, ApiToken(
        digest=token_digest(key),
        user=user,
        password_mark=password_mark(user),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.API_TOKEN_TTL_SECONDS),
    )


def token_issue(*, user: User) -> IssuedToken:
    """A new API token for `user`, valid for API_TOKEN_TTL_SECONDS (one per sign-in, so
    signing out on one device leaves the others). The user's dead tokens (expired, or
    of an old password) are deleted on the way."""
    now = timezone.now()
    ApiToken.objects.filter(user=user).filter(
        Q(expires_at__lte=now) | ~Q(password_mark=password_mark(user))
    ).delete()
    key, token = _new_token(user, now)
    token.save()
    return IssuedToken(key=key, expires_at=token.expires_at)


def tokens_issue(*, users: Iterable[User]) -> dict[int, str]:
    """One new token per user in one INSERT (benchmark and test seeding): user id → key."""
    now = timezone.now()
    made = [_new_token(user, now) for user in users]
    ApiToken.objects.bulk_create([token for _key, token in made])
    return {token.user_id: key for key, token in made}


def token_revoke(*, key: str) -> None:
    """Sign-out (`POST /api/auth/logout`): the token stops working at once, cache included."""
    digest = token_digest(key)
    ApiToken.objects.filter(digest=digest).delete()
    forget_token(digest)


def tokens_revoke(*, user: User) -> int:
    """End every API token of `user` at once (a stolen device, an operator's action);
    returns how many. A password change needs no call: tokens carry the password mark."""
    digests = list(ApiToken.objects.filter(user=user).values_list("digest", flat=True))
    ApiToken.objects.filter(user=user).delete()
    for digest in digests:
        forget_token(digest)
    return len(digests)


# --- Websocket tickets ------------------------------------------------------------------


def _ticket_cache_key(ticket: str) -> str:
    return "auth:wst:" + token_digest(ticket)


def ws_ticket_issue(*, user: User) -> str:
    """A one-use ticket for the websocket URL, valid WS_TICKET_TTL_SECONDS (SPEC §7): the
    long-lived token never appears in a URL, where proxies log it. Kept in the cache
    (Redis when deployed, so any process can redeem it)."""
    ticket = secrets.token_urlsafe(24)
    cache.set(_ticket_cache_key(ticket), user.pk, settings.WS_TICKET_TTL_SECONDS)
    return ticket


def ws_ticket_redeem(*, ticket: str) -> User | None:
    """The active user a ticket was issued to, once: the first redeemer deletes it (the
    delete reports whether this caller removed it, so two racing redeemers cannot both
    win). None for an unknown, used or expired ticket."""
    if not isinstance(ticket, str) or not 1 <= len(ticket) <= 100:
        return None
    key = _ticket_cache_key(ticket)
    user_id = cache.get(key)
    if user_id is None or not cache.delete(key):
        return None
    user = cached_user(user_id)
    if user is None or not user.is_active:
        return None
    return user
