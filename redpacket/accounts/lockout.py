"""The answer to a sign-in refused because the account is locked (django-axes calls
`lockout_response`, AXES_LOCKOUT_CALLABLE): API.md's error shape on the API, the login
form with the reason on the login page, a plain page elsewhere (the admin's sign-in)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from redpacket.accounts.errors import LoginLocked
from redpacket.accounts.forms import LoginForm


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    error = LoginLocked()
    if request.path.startswith("/api/"):
        return JsonResponse(error.as_dict(), status=error.status)
    if request.path == reverse("login"):
        # Unbound: a bound AuthenticationForm would try the password once more.
        form = LoginForm(request, initial={"username": request.POST.get("username", "")})
        context = {"form": form, "next": request.POST.get("next", ""), "locked": error.message}
        return render(request, "accounts/login.html", context, status=error.status)
    return render(request, "error.html", {"title": str(error.message)}, status=error.status)
