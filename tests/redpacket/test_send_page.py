"""发红包 with JavaScript off: the form posts to the page, `packet_send` decides, and its
texts (SPEC §3 limits) come back as form errors; nothing is paid on an error, and one
rendered form sends at most one packet."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from redpacket.packets.models import Packet
from tests.invariants import assert_invariants
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db(transaction=True)


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_key(html: str) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert match is not None, "no idempotency key in the form"
    return match.group(1)


def post(client, room, **fields):
    page = client.get(f"/packets/send/{room.pk}/").content.decode()
    data = {"idempotency_key": form_key(page), "pay_with": "balance", "pin": "123456", **fields}
    return client.post(f"/packets/send/{room.pk}/", data)


GROUP_ERRORS = [
    ({"kind": "lucky", "count": "101", "total_fen": "200"}, "红包个数不可超过100个"),
    ({"kind": "lucky", "count": "6", "total_fen": "10"}, "红包个数不可超过群人数"),
    ({"kind": "lucky", "count": "0", "total_fen": "10"}, "红包个数至少为1个"),
    ({"kind": "lucky", "count": "", "total_fen": "10"}, "红包个数至少为1个"),
    ({"kind": "lucky", "count": "2", "total_fen": "0.01"}, "单个红包金额不可低于0.01元"),
    ({"kind": "lucky", "count": "1", "total_fen": "201"}, "单个红包金额不可超过200元"),
    ({"kind": "lucky", "count": "2", "total_fen": "400.01"}, "单个红包金额不可超过200元"),
    ({"kind": "lucky", "count": "2", "total_fen": ""}, "请填写总金额"),
    ({"kind": "lucky", "count": "2", "total_fen": "1.234"}, "请输入正确的金额，最多两位小数"),
    ({"kind": "normal", "count": "2", "share_fen": "200.01"}, "单个红包金额不可超过200元"),
    ({"kind": "normal", "count": "2", "share_fen": "0"}, "单个红包金额不可低于0.01元"),
    ({"kind": "normal", "count": "2", "share_fen": ""}, "请填写单个金额"),
    (
        {"kind": "lucky", "count": "2", "total_fen": "1", "greeting": "福" * 26},
        "祝福语不可超过25个字",
    ),
]


@pytest.mark.parametrize(("fields", "text"), GROUP_ERRORS, ids=[e[1] for e in GROUP_ERRORS])
def test_each_limit_shows_its_text_and_pays_nothing(group, fields, text):
    room, users = group(5)
    before = balance_of(users[0])
    response = post(browser_for(users[0]), room, **fields)
    assert response.status_code == 200
    html = response.content.decode()
    assert text in html
    assert 'id="send-errors" role="alert"' in html
    assert not Packet.objects.exists()
    assert balance_of(users[0]) == before


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("201", "单个红包金额不可超过200元"),
        ("0.00", "单个红包金额不可低于0.01元"),
        ("", "请填写单个金额"),
    ],
)
def test_direct_room_limits(direct, amount, text):
    room, (a, _b) = direct()
    response = post(browser_for(a), room, share_fen=amount)
    assert text in response.content.decode()
    assert not Packet.objects.exists()


def test_a_form_posted_twice_sends_one_packet(group):
    room, users = group(5)
    client = browser_for(users[0])
    before = balance_of(users[0])
    page = client.get(f"/packets/send/{room.pk}/").content.decode()
    data = {
        "idempotency_key": form_key(page),
        "kind": "lucky",
        "count": "3",
        "total_fen": "8.88",
        "greeting": "新年快乐",
        "pay_with": "balance",
        "pin": "123456",
    }
    first = client.post(f"/packets/send/{room.pk}/", data)
    second = client.post(f"/packets/send/{room.pk}/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == f"/chat/rooms/{room.pk}/"
    packet = Packet.objects.get()
    assert (packet.kind, packet.count, packet.total_fen, packet.greeting) == (
        "lucky",
        3,
        888,
        "新年快乐",
    )
    assert balance_of(users[0]) == before - 888
    assert_invariants()


def test_a_normal_packet_and_a_direct_packet_without_javascript(group, direct):
    room, users = group(5)
    response = post(browser_for(users[0]), room, kind="normal", count="4", share_fen="1.50")
    assert response.status_code == 302
    assert Packet.objects.get().total_fen == 600
    droom, (a, _b) = direct()
    assert post(browser_for(a), droom, share_fen="5.20", kind="lucky").status_code == 302
    packet = Packet.objects.get(room=droom)
    assert (packet.kind, packet.count, packet.total_fen) == ("normal", 1, 520)


@pytest.mark.parametrize(
    ("pin", "text"), [("", "请输入支付密码"), ("000000", "支付密码错误，还可以再试4次")]
)
def test_payment_refusals_are_form_errors(group, pin, text):
    room, users = group(5)
    before = balance_of(users[0])
    response = post(browser_for(users[0]), room, kind="lucky", count="2", total_fen="2", pin=pin)
    assert response.status_code == 200
    assert text in response.content.decode()
    assert not Packet.objects.exists() and balance_of(users[0]) == before


def test_insufficient_change_says_so(group):
    room, users = group(5, money=100)
    response = post(browser_for(users[0]), room, kind="lucky", count="2", total_fen="2.00")
    assert "零钱余额不足" in response.content.decode()
    assert not Packet.objects.exists()


def test_a_bound_card_pays_when_chosen(group):
    from wallet.models import BankCard

    room, users = group(5, money=100)
    card = BankCard.objects.get(user=users[0])
    response = post(
        browser_for(users[0]), room, kind="lucky", count="2", total_fen="2.00", pay_with=card.pk
    )
    assert response.status_code == 302
    assert Packet.objects.get().paid_with_card_id == card.pk
    assert balance_of(users[0]) == 100
    assert_invariants()


def test_the_switch_keeps_what_was_typed_without_javascript(group):
    room, users = group(5)
    client = browser_for(users[0])
    page = client.get(f"/packets/send/{room.pk}/").content.decode()
    key = form_key(page)
    to_normal = client.post(
        f"/packets/send/{room.pk}/",
        {
            "idempotency_key": key,
            "kind": "lucky",
            "count": "5",
            "total_fen": "10.00",
            "switch": "normal",
        },
    ).content.decode()
    assert 'name="kind" value="normal"' in to_normal
    assert re.search(r'name="share_fen" value="2.00"', to_normal)
    assert form_key(to_normal) == key
    uneven = client.post(
        f"/packets/send/{room.pk}/",
        {
            "idempotency_key": key,
            "kind": "lucky",
            "count": "3",
            "total_fen": "10.00",
            "switch": "normal",
        },
    ).content.decode()
    assert re.search(r'name="share_fen" value="3.33"', uneven)  # rounded down to the fen
    back = client.post(
        f"/packets/send/{room.pk}/",
        {
            "idempotency_key": key,
            "kind": "normal",
            "count": "5",
            "share_fen": "2.00",
            "switch": "lucky",
        },
    ).content.decode()
    assert 'name="kind" value="lucky"' in back
    assert re.search(r'name="total_fen" value="10.00"', back)
    assert not Packet.objects.exists()


def test_the_send_pages_show_spec_fields(group, direct):
    room, users = group(5)
    html = browser_for(users[0]).get(f"/packets/send/{room.pk}/").content.decode()
    for text in (
        "红包个数",
        "总金额",
        "本群共5人",
        "塞钱进红包",
        "改为普通红包",
        'placeholder="恭喜发财，大吉大利"',
        'data-max-share-fen="20000"',
    ):
        assert text in html
    droom, (a, _b) = direct()
    html = browser_for(a).get(f"/packets/send/{droom.pk}/").content.decode()
    assert "金额" in html and "红包个数" not in html and "改为普通红包" not in html


def test_only_members_reach_a_rooms_send_page(group, make_user):
    room, _users = group(3)
    assert browser_for(make_user()).get(f"/packets/send/{room.pk}/").status_code == 404
