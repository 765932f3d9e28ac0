"""API tokens expire, and sign-out and a password change end them at once, cache
included (SPEC §7, issue #16 finding 2). Each test warms the token cache first: the
finding was a token that kept working from the cache."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tokens-77"


def _sign_in(api_client, username: str) -> dict:
    response = api_client.post(
        "/api/auth/token", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return response.json()


def _me(api_client, token: str) -> int:
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api_client.get("/api/me").status_code


def test_token_answer_has_its_expiry(api_client, make_user, settings):
    make_user("tk", password=PASSWORD)
    body = _sign_in(api_client, "tk")
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    expected = timezone.now() + timedelta(seconds=settings.API_TOKEN_TTL_SECONDS)
    assert abs((expires_at - expected).total_seconds()) < 60
    assert _me(api_client, body["token"]) == 200


def test_expired_token_is_refused_even_when_cached(api_client, make_user, settings):
    make_user("tk", password=PASSWORD)
    settings.API_TOKEN_TTL_SECONDS = 2
    token = _sign_in(api_client, "tk")["token"]
    assert _me(api_client, token) == 200  # cached now
    time.sleep(2.1)
    assert _me(api_client, token) == 401


def test_logout_revokes_the_token_used_at_once_and_only_it(api_client, make_user):
    make_user("tk", password=PASSWORD)
    phone = _sign_in(api_client, "tk")["token"]
    laptop = _sign_in(api_client, "tk")["token"]
    assert _me(api_client, phone) == 200 and _me(api_client, laptop) == 200  # both cached
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {phone}")
    assert api_client.post("/api/auth/logout").status_code == 204
    assert _me(api_client, phone) == 401
    assert _me(api_client, laptop) == 200


def test_password_change_ends_every_token_at_once(api_client, make_user):
    user = make_user("tk", password=PASSWORD)
    tokens = [_sign_in(api_client, "tk")["token"] for _ in range(2)]
    assert all(_me(api_client, token) == 200 for token in tokens)
    user.set_password("a-new-password-88")
    user.save()
    assert [_me(api_client, token) for token in tokens] == [401, 401]
    # A token issued under the new password works.
    response = api_client.post(
        "/api/auth/token", {"username": "tk", "password": "a-new-password-88"}, format="json"
    )
    assert _me(api_client, response.json()["token"]) == 200


def test_password_change_in_admin_ends_tokens(client, api_client, make_user):
    user = make_user("tk", password=PASSWORD)
    admin = make_user("boss", is_staff=True, is_superuser=True)
    token = _sign_in(api_client, "tk")["token"]
    assert _me(api_client, token) == 200
    client.force_login(admin)
    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": "Admin-set-pw-991", "password2": "Admin-set-pw-991"},
    )
    assert response.status_code == 302
    assert _me(api_client, token) == 401


def test_a_token_deleted_anywhere_stops_at_once(api_client, make_user):
    from redpacket.accounts.models import ApiToken

    user = make_user("tk", password=PASSWORD)
    token = _sign_in(api_client, "tk")["token"]
    assert _me(api_client, token) == 200
    ApiToken.objects.filter(user=user).delete()  # e.g. an operator in admin
    assert _me(api_client, token) == 401


def test_only_a_digest_of_the_token_is_stored(api_client, make_user):
    from redpacket.accounts.models import ApiToken

    make_user("tk", password=PASSWORD)
    token = _sign_in(api_client, "tk")["token"]
    row = ApiToken.objects.get()
    assert token not in {row.digest, row.password_mark}


def test_browser_logout_through_the_api_ends_the_session(client, make_user):
    user = make_user("tk", password=PASSWORD)
    client.force_login(user)
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/me").status_code in {401, 403}


def test_logout_without_credentials_is_401(api_client):
    assert api_client.post("/api/auth/logout").status_code == 401


def test_ws_ticket_needs_authentication(api_client):
    response = api_client.post("/api/auth/ws-ticket")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
