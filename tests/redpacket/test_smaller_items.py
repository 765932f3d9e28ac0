"""Smaller items of the send page and the English pages: a greeting of any length over
25 characters gets SPEC's own message (API and page); the ledger's entry types and the
amount and count units read in English for an English viewer; the kind switch of the
send page carries nothing stale over."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from redpacket.packets.models import Packet
from tests.invariants import assert_invariants
from tests.redpacket.test_send_page import post
from tests.shake.conftest import make_operator  # noqa: F401 - fixture
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db(transaction=True)

GREETING_TOO_LONG = "祝福语不可超过25个字"


def client_for(user, language: str = "zh-hans") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.mark.parametrize("length", [26, 201, 1000])
def test_a_long_greeting_gets_the_rules_message_from_the_api(group, length):
    room, users = group(3)
    response = client_for(users[0]).post(
        "/api/packets",
        {
            "room_id": room.pk,
            "kind": "lucky",
            "count": 2,
            "total_fen": 500,
            "greeting": "福" * length,
            "pin": "123456",
        },
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 400
    assert response.json()["fields"]["greeting"] in (GREETING_TOO_LONG, [GREETING_TOO_LONG])
    assert not Packet.objects.exists() and balance_of(users[0]) == 100_000
    assert_invariants()


@pytest.mark.parametrize("length", [26, 201, 1000])
def test_a_long_greeting_gets_the_rules_message_on_the_page(group, length):
    room, users = group(3)
    response = post(
        client_for(users[0]), room, kind="lucky", count="2", total_fen="5", greeting="福" * length
    )
    html = response.content.decode()
    assert response.status_code == 200 and GREETING_TOO_LONG in html
    assert "Ensure this value" not in html and "确保该值" not in html
    assert not Packet.objects.exists() and balance_of(users[0]) == 100_000
    assert_invariants()


def test_a_greeting_of_25_characters_is_sent(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=500, greeting="福" * 25)
    assert packet.greeting == "福" * 25
    assert_invariants()


def test_the_ledger_reads_its_entry_types_in_english(make_user, fund):
    user = make_user()
    fund(user, 62)
    english = client_for(user, "en").get("/wallet/ledger/").content.decode()
    assert "Top up" in english and "充值" not in english
    chinese = client_for(user).get("/wallet/ledger/").content.decode()
    assert "充值" in chinese
    assert_invariants()


def test_amount_and_count_units_are_spaced_words_in_english(group, send, make_campaign_page):
    room, users = group(3)
    send(users[0], room, count=2, total_fen=62)
    english = client_for(users[0], "en")
    sent = english.get("/packets/mine/?tab=sent").content.decode()
    assert re.search(r"0\.62<small> yuan</small>", sent), "the unit is a separate word"
    assert "0.62<small>yuan</small>" not in sent
    campaign_page = english.get(make_campaign_page).content.decode()
    assert re.search(r"300</strong> packets", campaign_page)
    chinese = client_for(users[0]).get("/packets/mine/?tab=sent").content.decode()
    assert "0.62<small>元</small>" in chinese
    assert_invariants()


@pytest.fixture
def make_campaign_page(make_operator, fund):  # noqa: F811
    """The URL of a running campaign's shake page with 300 packets."""
    from datetime import timedelta

    from django.utils import timezone

    from shake import services

    sponsor = make_operator()
    fund(sponsor, 200_000)
    now = timezone.now()
    campaign = services.campaign_create(
        created_by=sponsor,
        request_key=str(uuid.uuid4()),
        name="春晚摇一摇",
        budget_fen=200_000,
        count=300,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(minutes=5),
    )
    return f"/shake/{campaign.pk}/"
