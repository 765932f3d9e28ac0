"""Sign-in lockout per account (SPEC §7, issue #16 finding 1): the API token endpoint, the
login page and the admin's sign-in, through the real django-axes backend and middleware
on the configured database; client addresses only from trusted proxies."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from redpacket.kernel.startup import trusted_proxy_settings

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-for-lock-9"


def _addresses(n: int) -> list[str]:
    return [f"198.51.100.{i + 1}" for i in range(n)]


def test_api_locks_the_account_after_wrong_passwords_from_any_address(api_client, make_user):
    """Before: 35 wrong passwords → 35 × 400 and the right one still worked."""
    make_user("target", password=PASSWORD)
    statuses = []
    for address in _addresses(5):  # every guess from another address and forwarded-for
        response = api_client.post(
            "/api/auth/token",
            {"username": "target", "password": "guess"},
            format="json",
            REMOTE_ADDR=address,
            HTTP_X_FORWARDED_FOR=address,
        )
        statuses.append(response.status_code)
    assert statuses == [400, 400, 400, 400, 429]  # the fifth failure locks
    response = api_client.post(
        "/api/auth/token",
        {"username": "target", "password": PASSWORD},
        format="json",
        REMOTE_ADDR="203.0.113.50",
    )
    assert response.status_code == 429
    assert response.json()["code"] == "login_locked"
    assert response.json()["message"]


def test_lockout_is_per_account_and_ends_after_the_cool_off(api_client, make_user, settings):
    make_user("target", password=PASSWORD)
    make_user("neighbour", password=PASSWORD)
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    for _ in range(5):
        api_client.post("/api/auth/token", {"username": "target", "password": "x"}, format="json")
    locked = api_client.post(
        "/api/auth/token", {"username": "target", "password": PASSWORD}, format="json"
    )
    assert locked.status_code == 429
    # Same address, another account: not locked.
    neighbour = api_client.post(
        "/api/auth/token", {"username": "neighbour", "password": PASSWORD}, format="json"
    )
    assert neighbour.status_code == 200
    time.sleep(1.2)
    again = api_client.post(
        "/api/auth/token", {"username": "target", "password": PASSWORD}, format="json"
    )
    assert again.status_code == 200 and again.json()["token"]


def test_login_page_locks_the_account(client, make_user):
    make_user("pageuser", password=PASSWORD)
    statuses = [
        client.post(
            "/accounts/login/", {"username": "pageuser", "password": "nope"}, REMOTE_ADDR=address
        ).status_code
        for address in _addresses(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
    response = client.post("/accounts/login/", {"username": "pageuser", "password": PASSWORD})
    assert response.status_code == 429
    assert "密码错误次数过多" in response.content.decode()
    assert client.get("/chat/").status_code == 302  # not signed in


def test_admin_sign_in_locks_the_account(client, make_user):
    make_user("opsuser", password=PASSWORD, is_staff=True, is_superuser=True)
    for address in _addresses(5):
        client.post(
            "/admin/login/", {"username": "opsuser", "password": "nope"}, REMOTE_ADDR=address
        )
    response = client.post("/admin/login/", {"username": "opsuser", "password": PASSWORD})
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302  # still asked to sign in


def test_rotating_forwarded_for_does_not_escape_the_auth_throttle(api_client):
    """Before: the throttle keyed clients by X-Forwarded-For, so rotating it was never
    throttled. With no trusted proxy (the default) the peer address decides."""
    statuses = []
    for i in range(35):
        response = api_client.post(
            "/api/auth/token",
            {"username": f"nobody{i}", "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i + 1}",
        )
        statuses.append(response.status_code)
    assert statuses[:30] == [400] * 30
    assert set(statuses[30:]) == {429}
    assert response.json()["code"] == "rate_limited"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "6.6.6.6, 1.2.3.4", "10.0.0.2"),  # no proxy trusted: the peer
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # nginx appended the client
        (2, "6.6.6.6, 1.2.3.4, 10.0.0.5", "1.2.3.4"),
    ],
)
def test_throttle_and_lockout_take_the_same_address_from_trusted_proxies(
    settings, count, forwarded, expected
):
    from axes.helpers import get_client_ip_address

    rule = trusted_proxy_settings(count)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": rule["NUM_PROXIES"]}
    settings.AXES_IPWARE_PROXY_COUNT = rule["AXES_IPWARE_PROXY_COUNT"]
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = rule["AXES_IPWARE_META_PRECEDENCE_ORDER"]
    assert settings.IPWARE_STRICT is False
    request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert SimpleRateThrottle.get_ident(None, Request(request)) == expected
    assert get_client_ip_address(request) == expected


def test_the_settings_apply_the_rule_of_their_trusted_proxy_count(settings):
    rule = trusted_proxy_settings(settings.TRUSTED_PROXY_COUNT)
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == rule["NUM_PROXIES"]
    assert rule["AXES_IPWARE_PROXY_COUNT"] == settings.AXES_IPWARE_PROXY_COUNT
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]
