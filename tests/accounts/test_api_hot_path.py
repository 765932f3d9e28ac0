"""The token API call's short path (docs/performance.md "Round 5"): a request carrying
`Authorization: Token …` skips the session, auth and messages middleware and reads
its token and user in one cache round trip; everything a browser's session call had
(CSRF included) stays, and so do the security headers."""

from __future__ import annotations

import pytest

from redpacket.accounts import authentication

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-hot-path-31"


def _token(api_client, make_user, username: str = "hp"):
    user = make_user(username, password=PASSWORD)
    response = api_client.post(
        "/api/auth/token", {"username": username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return user, response.json()["token"]


def test_token_call_sets_no_cookie_and_keeps_the_security_headers(api_client, make_user):
    _user, token = _token(api_client, make_user)
    api_client.cookies.clear()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api_client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["username"] == "hp"
    assert not response.cookies  # no session cookie
    assert "Cookie" not in response.get("Vary", "")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src" in response["Content-Security-Policy"]


def test_session_api_write_still_needs_csrf(make_user):
    from django.test import Client

    user = make_user("hp", password=PASSWORD)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/api/me").status_code == 200
    response = browser.post("/api/auth/logout")
    assert response.status_code == 403
    assert browser.get("/api/me").status_code == 200  # still signed in


def test_a_bad_token_is_refused_even_beside_a_good_session(api_client, make_user):
    user, _ = _token(api_client, make_user)
    api_client.force_login(user)  # a session cookie for the same client
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert api_client.get("/api/me").status_code == 401
    assert api_client.post("/api/auth/logout").status_code == 401


def test_a_warm_token_costs_one_cache_read(api_client, make_user, monkeypatch):
    _user, token = _token(api_client, make_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/me").status_code == 200  # warm: facts, user, owner known
    reads: list[str] = []
    real = authentication.cache

    class Counting:
        def get(self, *args, **kwargs):
            reads.append("get")
            return real.get(*args, **kwargs)

        def get_many(self, *args, **kwargs):
            reads.append("get_many")
            return real.get_many(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(authentication, "cache", Counting())
    assert api_client.get("/api/me").status_code == 200
    assert reads == ["get_many"]


def test_a_deactivated_user_with_a_warm_token_is_refused_at_once(api_client, make_user):
    user, token = _token(api_client, make_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/me").status_code == 200
    user.is_active = False
    user.save()
    assert api_client.get("/api/me").status_code == 401


def test_a_token_deleted_with_its_owner_remembered_is_refused(api_client, make_user):
    from redpacket.accounts.models import ApiToken

    user, token = _token(api_client, make_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/me").status_code == 200
    assert authentication._OWNERS[authentication.token_digest(token)] == user.pk
    ApiToken.objects.filter(user=user).delete()
    assert api_client.get("/api/me").status_code == 401


def test_the_open_throttle_refuses_past_its_rate_and_says_when(api_client, make_user, monkeypatch):
    from redpacket.packets.api.views import OpenThrottle

    monkeypatch.setattr(OpenThrottle, "THROTTLE_RATES", {"open": "3/min"})
    _user, token = _token(api_client, make_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answers = [api_client.post("/api/packets/987654321/open") for _ in range(5)]
    assert [a.status_code for a in answers[:3]] == [404, 404, 404]
    for refused in answers[3:]:
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 0 < int(refused["Retry-After"]) <= 60
    # Another user has a log of their own.
    _other, other = _token(api_client, make_user, "hp2")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {other}")
    assert api_client.post("/api/packets/987654321/open").status_code == 404
