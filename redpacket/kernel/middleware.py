"""Request-wide rules the views need not repeat.

- `ApiUtcMiddleware`: API answers give times in UTC (API.md), while pages show the site's
  time zone.
- `DomainErrorMiddleware`: pages raise the same domain errors as the API; an uncaught one
  becomes a proper page with its status (404 for NotFound), never a 500.
- `Api*Middleware`: the session, auth and messages middleware, skipped for an API call
  that carries `Authorization: Token …` (the hot path: every grab check and open). Such a
  call is authenticated by its token alone: DRF's token authentication either accepts it
  or answers 401, never falling back to the session; so the call has no use for a session
  (no session is loaded, none saved, no cookie set) and no messages to show. A call
  without a token (a browser's, by session cookie) goes through all of them as before.
  CSRF is untouched: Django's middleware stays for every request (DRF views are exempt
  from it and SessionAuthentication enforces CSRF itself, as before).
"""

import datetime as dt

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.shortcuts import render
from django.utils import timezone

from redpacket.kernel.errors import DomainError


class ApiUtcMiddleware:
    """Every `/api/` request runs in UTC: DRF renders times in the current time zone, so
    every API time comes out as ISO 8601 UTC ("…Z"), and a time sent without an offset is
    read as UTC, in every serializer, present and future."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/api/"):
            return self.get_response(request)
        with timezone.override(dt.UTC):
            return self.get_response(request)


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DomainError):
            return render(
                request, "error.html", {"title": str(exception.message)}, status=exception.status
            )
        return None


def token_api_call(request) -> bool:
    """An `/api/` request authenticated by `Authorization: Token …` (nothing else)."""
    return request.path_info.startswith("/api/") and request.META.get(
        "HTTP_AUTHORIZATION", ""
    ).startswith("Token ")


class ApiSessionMiddleware(SessionMiddleware):
    def __call__(self, request):
        if not self.async_mode and token_api_call(request):
            return self.get_response(request)
        return super().__call__(request)


class ApiAuthenticationMiddleware(AuthenticationMiddleware):
    def __call__(self, request):
        if not self.async_mode and token_api_call(request):
            # Until DRF authenticates the token (and sets the user), nobody: there is no
            # session to take a user from.
            request.user = AnonymousUser()
            return self.get_response(request)
        return super().__call__(request)


class ApiMessageMiddleware(MessageMiddleware):
    def __call__(self, request):
        if not self.async_mode and token_api_call(request):
            return self.get_response(request)
        return super().__call__(request)
