"""Request-wide rules the views need not repeat.

- `ApiUtcMiddleware`: API answers give times in UTC (API.md), while pages show the site's
  time zone.
- `DomainErrorMiddleware`: pages raise the same domain errors as the API; an uncaught one
  becomes a proper page with its status (404 for NotFound), never a 500.
"""

import datetime as dt

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
