"""SMS pumping (issue #16 finding 5): card-binding SMS are limited per user and per
phone number, on the page and the API alike, counted in the configured cache (Redis in
CI). Before: the page form sent 60 SMS in a row to one stranger's phone."""

from __future__ import annotations

import pytest

from tests.wallet.conftest import GOOD_CARD, PIN

pytestmark = pytest.mark.django_db

VICTIM = "13912345678"


def _sent_to(phone: str) -> int:
    from wallet.models import SmsMessage

    return SmsMessage.objects.filter(phone=phone).count()


def _bind_api(client, phone: str):
    return client.post(
        "/api/cards",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": phone, "pin": PIN},
        format="json",
    )


def test_page_form_stops_texting_one_phone(client, make_user, settings):
    user = make_user()
    client.force_login(user)
    statuses = []
    for _ in range(10):
        response = client.post(
            "/wallet/cards/add/",
            {"card_number": GOOD_CARD, "holder_name": "张三", "phone": VICTIM, "pin": PIN},
        )
        statuses.append(response.status_code)
    assert statuses[:3] == [302, 302, 302]  # to the code page, an SMS each
    assert set(statuses[3:]) == {200}  # the form again, with the reason
    assert "该手机号收到的验证码太多" in response.content.decode()
    assert _sent_to(VICTIM) == 3
    # The refusals sent nothing, so they did not use up the user's own sends.
    other = client.post(
        "/wallet/cards/add/",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13912340000", "pin": PIN},
    )
    assert other.status_code == 302


def test_api_limits_sends_per_user_whatever_the_phone(auth_client):
    client = auth_client()
    answers = [_bind_api(client, f"1391234{i:04d}") for i in range(7)]
    assert [a.status_code for a in answers] == [201] * 5 + [429, 429]
    assert answers[-1].json()["code"] == "sms_rate_limited"


def test_many_accounts_cannot_pump_one_phone(auth_client):
    answers = [_bind_api(auth_client(), VICTIM) for _ in range(6)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429, 429]
    refused = answers[-1].json()
    assert refused["code"] == "sms_rate_limited" and "phone" in refused["fields"]
    assert _sent_to(VICTIM) == 3


def test_invalid_input_is_not_counted(auth_client):
    client = auth_client()
    for _ in range(10):
        assert _bind_api(client, "12345").status_code == 400  # refused before any SMS
    assert _bind_api(client, VICTIM).status_code == 201


def test_page_and_api_share_the_limits(client, auth_client):
    api = auth_client()
    client.force_login(api.user)
    for i in range(5):
        assert _bind_api(api, f"1371234{i:04d}").status_code == 201
    response = client.post(
        "/wallet/cards/add/",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13700000001", "pin": PIN},
    )
    assert response.status_code == 200
    assert "验证码发送太频繁" in response.content.decode()
