"""API.md: "Times are ISO 8601 UTC." — whatever the site's time zone (TIME_ZONE,
Asia/Shanghai by default), every time in an API answer is UTC."""

import datetime as dt
import uuid

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from redpacket.accounts.services import token_issue
from tests.invariants import assert_invariants
from tests.redpacket.conftest import group  # noqa: F401
from tests.wallet.conftest import bind_card, fund  # noqa: F401

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    return client


def _times(value, path=""):
    """(where, text) of every key ending in `_at` or `_until`, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if (key.endswith("_at") or key.endswith("_until")) and isinstance(item, str):
                yield f"{path}.{key}", item
            else:
                yield from _times(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _times(item, f"{path}[{index}]")


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_every_api_time_is_utc(group, make_user):  # noqa: F811
    room, users = group(2)
    sender, member = _client(users[0]), _client(users[1])
    sent = sender.post(
        "/api/packets",
        {"room_id": room.pk, "kind": "lucky", "count": 2, "total_fen": 300, "pin": "123456"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert sent.status_code == 201, sent.json()
    packet_id = sent.json()["id"]
    assert member.post(f"/api/packets/{packet_id}/open").status_code == 200
    login = APIClient().post(
        "/api/auth/token",
        {"username": make_user(password="pass-word-1").username, "password": "pass-word-1"},
        format="json",
    )
    answers = [
        sent.json(),
        login.json(),
        member.get(f"/api/packets/{packet_id}").json(),
        member.get(f"/api/packets/{packet_id}/result").json(),
        sender.get("/api/wallet/ledger").json(),
        member.get(f"/api/rooms/{room.pk}/messages").json(),
        member.get("/api/rooms").json(),
    ]
    seen = [item for answer in answers for item in _times(answer)]
    assert len(seen) >= 8, seen
    for where, text in seen:
        parsed = dt.datetime.fromisoformat(text)
        assert parsed.utcoffset() == dt.timedelta(0), f"{where} = {text}"
    assert_invariants()
