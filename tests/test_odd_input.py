"""Odd client text never crashes a form or serializer that moves money or binds cards
(issue #16 finding 8: `str.isdigit()` accepts "²", then `int()` raised → 500).

Hypothesis throws Unicode digits ("²", "٣", full-width "１"), huge numbers, NUL
characters, long strings and wrong JSON types at every such API and page form; each
answer must be a clear refusal (4xx with API.md's error shape, or the page again with a
form error), never a 5xx. The hand-picked cases first are the ones that used to crash.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redpacket.kernel.money import parse_yuan
from redpacket.kernel.numbers import is_ascii_digits, parse_int
from tests.redpacket.conftest import direct, group  # noqa: F401
from tests.wallet.conftest import GOOD_CARD, PIN, bind_card, fund  # noqa: F401

pytestmark = pytest.mark.django_db

ODD_DIGITS = ["²", "²²²²²²", "٣", "١٢٣٤٥٦", "１", "１２３４５６", "¹²³", "߁", "𝟙𝟚", "৩"]
ODD_TEXT = [
    *ODD_DIGITS,
    "\x00",
    "12\x003",
    "9" * 30,
    "9" * 5000,
    "-1",
    "1e5",
    "NaN",
    "Infinity",
    " 12 ",
    "12.345",
    "0x10",
    "1_000",
    "",
    "x" * 10_000,
    "4111²11111111111",
    "１3800138000",
    "1380013800²",
]

odd_text = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
odd_json = st.one_of(
    odd_text,
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_clear_api_refusal(response) -> None:
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str)


def assert_page_answers(response) -> None:
    assert response.status_code < 500, response.content[:300]


# --- the helper ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ODD_DIGITS)
def test_unicode_digits_are_not_numbers(text):
    assert text.isdigit() or text.isnumeric()  # what fooled the old checks
    assert not is_ascii_digits(text)
    assert parse_int(text) is None
    assert parse_yuan(text) is None


@given(st.integers(min_value=0, max_value=10**18))
def test_ascii_numbers_still_parse(number):
    assert parse_int(str(number)) == number


# --- the crashes of the finding, by hand ------------------------------------------------


@pytest.fixture
def payer(make_user, fund):  # noqa: F811
    user = make_user()
    fund(user, 100_000)
    return user


@pytest.fixture
def rooms(group, direct):  # noqa: F811
    """(payer, a group room of theirs, a direct room of theirs), made once per test."""
    group_room, (payer, *_others) = group(2)
    direct_room, (direct_payer, _other) = direct()
    return payer, group_room, direct_room, direct_payer


@pytest.mark.parametrize(
    "payload",
    [
        {"card_number": "4111²11111111111", "holder_name": "张三", "phone": "13800138000"},
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "1380013800²", "pin": PIN},
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000", "pin": "²²²²²²"},
        {"card_number": "٤١١١١١١١١١١١١١١١", "holder_name": "张三", "phone": "13800138000"},
    ],
)
def test_card_binding_api_refuses_unicode_digits(auth_client, payload):
    client = auth_client()
    response = client.post("/api/cards", {"pin": PIN, **payload}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "invalid_pin"}


@pytest.mark.parametrize("amount", ["²", "1²", "１２", "٣", "1.²", "9" * 5000, "12\x00"])
@pytest.mark.parametrize("page", ["/wallet/topup/", "/wallet/withdraw/", "/wallet/transfer/"])
def test_money_pages_show_a_form_error_for_odd_amounts(client, payer, page, amount):
    from wallet.models import BankCard

    client.force_login(payer)
    card = BankCard.objects.get(user=payer)
    data = {
        "amount_fen": amount,
        "card_id": card.pk,
        "recipient": payer.username,
        "pin": PIN,
        "idempotency_key": uuid.uuid4().hex,
    }
    response = client.post(page, data)
    assert response.status_code == 200  # the form again, not a redirect and not a 500
    assert response.context["form"].errors


@pytest.mark.parametrize("count", ["²", "٣", "１", "9" * 5000, "\x00"])
def test_no_js_send_page_shows_a_form_error_for_odd_counts(client, rooms, count):
    payer, room, _direct, _ = rooms
    client.force_login(payer)
    for extra in ({}, {"switch": "normal"}):
        response = client.post(
            f"/packets/send/{room.pk}/",
            {
                "kind": "lucky",
                "count": count,
                "total_fen": "1.00",
                "pay_with": "balance",
                "pin": PIN,
                "idempotency_key": uuid.uuid4().hex,
                **extra,
            },
        )
        assert response.status_code == 200


# --- hypothesis over every form and serializer that moves money or binds cards -----------


@FUZZ
@given(card_number=odd_json, holder_name=odd_json, phone=odd_json, pin=odd_json)
def test_card_binding_api_never_500s(auth_client, card_number, holder_name, phone, pin):
    client = auth_client()
    payload = {"card_number": card_number, "holder_name": holder_name, "phone": phone, "pin": pin}
    assert_clear_api_refusal(client.post("/api/cards", payload, format="json"))


@FUZZ
@given(card_number=odd_text, holder_name=odd_text, phone=odd_text, pin=odd_text)
def test_card_binding_page_never_500s(client, make_user, card_number, holder_name, phone, pin):
    client.force_login(make_user())
    data = {"card_number": card_number, "holder_name": holder_name, "phone": phone, "pin": pin}
    assert_page_answers(client.post("/wallet/cards/add/", data))


@FUZZ
@given(
    endpoint=st.sampled_from(["topup", "withdraw", "transfer"]),
    amount=odd_json,
    target=odd_json,
    pin=odd_json,
    note=odd_json,
)
def test_money_apis_never_500(auth_client, payer, endpoint, amount, target, pin, note):
    client = auth_client(payer)
    payload = {"amount_fen": amount, "pin": pin, "card_id": target, "to_user_id": target}
    if endpoint == "transfer":
        payload["note"] = note
    response = client.post(
        f"/api/wallet/{endpoint}",
        payload,
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert_clear_api_refusal(response)


@FUZZ
@given(
    page=st.sampled_from(["/wallet/topup/", "/wallet/withdraw/", "/wallet/transfer/"]),
    amount=odd_text,
    card=odd_text,
    recipient=odd_text,
    pin=odd_text,
    note=odd_text,
)
def test_money_pages_never_500(client, payer, page, amount, card, recipient, pin, note):
    client.force_login(payer)
    data = {
        "amount_fen": amount,
        "card_id": card,
        "recipient": recipient,
        "pin": pin,
        "note": note,
        "idempotency_key": uuid.uuid4().hex,
    }
    assert_page_answers(client.post(page, data))


@FUZZ
@given(
    kind=st.one_of(st.sampled_from(["lucky", "normal"]), odd_json),
    count=odd_json,
    amount=odd_json,
    pay_with=odd_json,
    greeting=odd_json,
    room_id=odd_json,
)
def test_send_api_never_500s(auth_client, rooms, kind, count, amount, pay_with, greeting, room_id):
    payer, room, _direct, _ = rooms
    client = auth_client(payer)
    payload = {
        "room_id": room.pk if room_id is None else room_id,
        "kind": kind,
        "count": count,
        "total_fen": amount,
        "share_fen": amount,
        "pay_with": pay_with,
        "greeting": greeting,
        "pin": PIN,
    }
    response = client.post(
        "/api/packets", payload, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )
    assert_clear_api_refusal(response)


@FUZZ
@given(
    kind=odd_text,
    count=odd_text,
    total=odd_text,
    share=odd_text,
    pay_with=odd_text,
    greeting=odd_text,
    switch=st.sampled_from(["", "normal", "lucky"]),
)
def test_no_js_send_page_never_500s(
    client, rooms, kind, count, total, share, pay_with, greeting, switch
):
    payer, group_room, direct_room, direct_payer = rooms
    for user, room in ((payer, group_room), (direct_payer, direct_room)):
        client.force_login(user)
        data = {
            "kind": kind,
            "count": count,
            "total_fen": total,
            "share_fen": share,
            "pay_with": pay_with,
            "greeting": greeting,
            "pin": PIN,
            "idempotency_key": uuid.uuid4().hex,
        }
        if switch:
            data["switch"] = switch
        assert_page_answers(client.post(f"/packets/send/{room.pk}/", data))


@FUZZ
@given(name=odd_json, member_ids=odd_json, user_ids=odd_json, text=odd_json, user_id=odd_json)
def test_room_apis_never_500(auth_client, make_user, name, member_ids, user_ids, text, user_id):
    client = auth_client()
    created = client.post(
        "/api/rooms", {"kind": "group", "name": "群", "member_ids": []}, format="json"
    )
    room_id = created.json()["id"]
    for method, path, payload in [
        ("post", "/api/rooms", {"kind": "group", "name": name, "member_ids": member_ids}),
        ("post", "/api/rooms", {"kind": "direct", "user_id": user_id}),
        ("post", f"/api/rooms/{room_id}/members", {"user_ids": user_ids}),
        ("post", f"/api/rooms/{room_id}/messages", {"text": text}),
        ("post", f"/api/rooms/{room_id}/read", {"message_id": user_id}),
    ]:
        assert_clear_api_refusal(getattr(client, method)(path, payload, format="json"))
    for query in (member_ids, user_id, text):
        response = client.get(f"/api/rooms/{room_id}/messages", {"before": str(query)[:200]})
        assert_clear_api_refusal(response)


@FUZZ
@given(name=odd_text, members=odd_text, usernames=odd_text, user_id=odd_text, year=odd_text)
def test_room_and_record_pages_never_500(
    client, make_user, name, members, usernames, user_id, year
):
    client.force_login(make_user())
    assert_page_answers(
        client.post("/chat/new/group/", {"name": name, "members": members, "usernames": usernames})
    )
    assert_page_answers(client.post("/chat/new/direct/", {"username": name, "user_id": user_id}))
    assert_page_answers(client.get("/packets/mine/", {"year": year[:200], "page": user_id[:200]}))
    assert_page_answers(client.get("/wallet/ledger/", {"page": year[:200]}))


@FUZZ
@given(
    budget=odd_json,
    count=odd_json,
    tiers=st.one_of(
        odd_json,
        st.lists(
            st.fixed_dictionaries(
                {"probability_ppm": odd_json, "min_fen": odd_json, "max_fen": odd_json}
            ),
            max_size=3,
        ),
    ),
    ends_at=odd_json,
)
def test_shake_apis_never_500(auth_client, make_user, budget, count, tiers, ends_at):
    staff = make_user(is_staff=True)
    client = auth_client(staff)
    payload = {
        "name": "摇",
        "budget_fen": budget,
        "count": count,
        "ends_at": ends_at,
        "tiers": tiers,
    }
    response = client.post(
        "/api/shake/campaigns", payload, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )
    assert_clear_api_refusal(response)
    for campaign_id in (1, 10**18, 2**63 + 5):
        assert_clear_api_refusal(client.post(f"/api/shake/campaigns/{campaign_id}/shake"))
