"""Requests past the sign-in check, for the type checker: their user is a `User`.

A `login_required` page and an API view (IsAuthenticated is the default permission) only
ever run for a signed-in user, but django-stubs types `request.user` as `User |
AnonymousUser`. Annotating `request` with one of these says what is known, once, instead
of a cast in every view. Nothing builds them: Django and DRF pass their own requests."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from redpacket.accounts.models import User


class SignedInRequest(HttpRequest):
    user: User


class SignedInApiRequest(Request):
    user: User
