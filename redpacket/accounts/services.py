"""Account writes: registration and API tokens."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from redpacket.accounts.authentication import forget_token
from redpacket.accounts.models import User
from redpacket.core.errors import InvalidInput


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


def token_issue(*, user: User) -> Token:
    """The user's API token (one per user, created on first use)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_revoke(*, user: User) -> None:
    """Delete the user's API token so it stops working at once, cache included."""
    for token in Token.objects.filter(user=user):
        forget_token(token.key)
        token.delete()
