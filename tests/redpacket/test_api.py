import uuid

import pytest
from rest_framework.test import APIClient

from redpacket.accounts.services import token_issue
from redpacket.packets.models import Packet
from tests.invariants import assert_invariants
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    return client


def post_packet(user, body, key=None):
    return client_for(user).post(
        "/api/packets", body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4())
    )


def test_send_open_result_through_the_api(group):
    room, users = group(3)
    response = post_packet(
        users[0],
        {
            "room_id": room.pk,
            "kind": "lucky",
            "count": 2,
            "total_fen": 888,
            "greeting": "发财",
            "pin": "123456",
        },
    )
    assert response.status_code == 201, response.json()
    packet = response.json()
    assert (
        packet["total_fen"] == 888 and packet["greeting"] == "发财" and packet["status"] == "active"
    )
    assert packet["kind"] == "lucky" and packet["count"] == 2 and packet["room_id"] == room.pk

    opened = client_for(users[1]).post(f"/api/packets/{packet['id']}/open")
    assert opened.status_code == 200 and opened.json()["repeat"] is False
    again = client_for(users[1]).post(f"/api/packets/{packet['id']}/open")
    assert again.json() == {"amount_fen": opened.json()["amount_fen"], "repeat": True}
    client_for(users[2]).post(f"/api/packets/{packet['id']}/open")
    late = client_for(users[0]).post(f"/api/packets/{packet['id']}/open")
    assert late.status_code == 409 and late.json()["code"] == "finished"
    assert_invariants()


def test_default_greeting(group):
    room, users = group(3)
    body = post_packet(
        users[0],
        {"room_id": room.pk, "kind": "normal", "count": 2, "share_fen": 100, "pin": "123456"},
    ).json()
    assert (
        body["greeting"] == "恭喜发财，大吉大利"
        and body["share_fen"] == 100
        and body["total_fen"] == 200
    )


def test_replayed_send_returns_the_same_packet(group):
    room, users = group(3)
    payload = {"room_id": room.pk, "kind": "lucky", "count": 2, "total_fen": 500, "pin": "123456"}
    first = post_packet(users[0], payload, key="same-key")
    second = post_packet(users[0], payload, key="same-key")
    assert first.json() == second.json() and Packet.objects.count() == 1
    assert balance_of(users[0]) == 100_000 - 500


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"count": 0, "total_fen": 100}, "count"),
        ({"count": 101, "total_fen": 10_100}, "count"),
        ({"count": 6, "total_fen": 600}, "count"),  # more than the 5 members
        ({"count": 2, "total_fen": 1}, "total_fen"),
        ({"count": 2, "total_fen": 40_001}, "total_fen"),
        ({"count": 2, "total_fen": 0}, "total_fen"),
        ({"count": 2, "total_fen": -100}, "total_fen"),
        ({"count": 2, "total_fen": 12.5}, "total_fen"),
        ({"count": 2, "total_fen": "500"}, "total_fen"),
        ({"count": 2}, "total_fen"),
        ({"kind": "normal", "count": 2, "share_fen": 0}, "share_fen"),
        ({"kind": "normal", "count": 2, "share_fen": 20_001}, "share_fen"),
        ({"kind": "weird", "count": 2, "total_fen": 500}, "kind"),
        ({"count": 2, "total_fen": 500, "greeting": "长" * 26}, "greeting"),
        ({"count": "2", "total_fen": 500}, "count"),
        ({"count": 2, "total_fen": 500, "pay_with": "gold"}, "pay_with"),
        ({"count": 2, "total_fen": 500, "room_id": "x"}, "room_id"),
    ],
)
def test_bad_packets_are_400_and_change_nothing(group, payload, field):
    room, users = group(5)
    body = {"room_id": room.pk, "kind": "lucky", "pin": "123456", **payload}
    response = post_packet(users[0], body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"] and response.json()["code"] == "invalid"
    assert not Packet.objects.exists() and balance_of(users[0]) == 100_000
    assert_invariants()


def test_direct_room_packets_are_normal_and_single(direct):
    room, (a, _b) = direct()
    bad = post_packet(
        a, {"room_id": room.pk, "kind": "lucky", "count": 1, "total_fen": 100, "pin": "123456"}
    )
    assert bad.status_code == 400 and "kind" in bad.json()["fields"]
    ok = post_packet(
        a, {"room_id": room.pk, "kind": "normal", "count": 1, "share_fen": 520, "pin": "123456"}
    )
    assert ok.status_code == 201
    assert (
        client_for(a).post(f"/api/packets/{ok.json()['id']}/open").json()["code"] == "not_allowed"
    )


def test_non_member_room_is_404_and_changes_nothing(group, make_user, fund):
    room, _ = group(3)
    outsider = make_user()
    fund(outsider, 10_000)
    response = post_packet(
        outsider,
        {"room_id": room.pk, "kind": "lucky", "count": 2, "total_fen": 500, "pin": "123456"},
    )
    assert response.status_code == 404
    assert balance_of(outsider) == 10_000 and not Packet.objects.exists()


def test_payment_refusals_are_422(group):
    room, users = group(3, money=300)
    short = post_packet(
        users[0],
        {"room_id": room.pk, "kind": "lucky", "count": 2, "total_fen": 301, "pin": "123456"},
    )
    assert short.status_code == 422 and short.json()["code"] == "insufficient_balance"
    no_pin = post_packet(
        users[0], {"room_id": room.pk, "kind": "lucky", "count": 2, "total_fen": 100}
    )
    assert no_pin.status_code == 422 and no_pin.json()["code"] == "pin_required"
    wrong = post_packet(
        users[0],
        {"room_id": room.pk, "kind": "lucky", "count": 2, "total_fen": 100, "pin": "000000"},
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_pin"
    assert not Packet.objects.exists() and balance_of(users[0]) == 300


def test_another_users_card_is_404(group):
    from wallet.models import BankCard

    room, users = group(3)
    foreign = BankCard.objects.get(user=users[1])
    response = post_packet(
        users[0],
        {
            "room_id": room.pk,
            "kind": "lucky",
            "count": 2,
            "total_fen": 100,
            "pin": "123456",
            "pay_with": foreign.pk,
        },
    )
    assert response.status_code == 404 and not Packet.objects.exists()


def test_non_members_cannot_see_or_open(group, send, make_user):
    room, users = group(3)
    packet = send(users[0], room)
    outsider = client_for(make_user())
    assert outsider.get(f"/api/packets/{packet.pk}").status_code == 404
    assert outsider.get(f"/api/packets/{packet.pk}/result").status_code == 404
    response = outsider.post(f"/api/packets/{packet.pk}/open")
    assert response.status_code == 403 and response.json()["code"] == "not_allowed"
    assert client_for(users[1]).get("/api/packets/999999").status_code == 404
    assert client_for(users[1]).post("/api/packets/999999/open").status_code == 404


def test_forward(group, send):
    from chat import services as chat_services

    room, users = group(3)
    other = chat_services.room_create_group(creator=users[0], name="二群", member_ids=[users[1].pk])
    packet = send(users[0], room)
    response = client_for(users[0]).post(
        f"/api/packets/{packet.pk}/forward", {"room_id": other.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "packet" and response.json()["packet_id"] == packet.pk
    not_sender = client_for(users[1]).post(
        f"/api/packets/{packet.pk}/forward", {"room_id": other.pk}, format="json"
    )
    assert not_sender.status_code == 403
    not_member = client_for(users[0]).post(
        f"/api/packets/{packet.pk}/forward", {"room_id": 987654}, format="json"
    )
    assert not_member.status_code == 404


def test_a_direct_packet_cannot_be_forwarded_into_a_group(direct, send, make_user, fund):
    """Issue #16 finding 7: a direct room's count-1 packet forwarded into a group could be
    opened by anyone there. Now 409 `direct_packet`, and the group sees nothing."""
    from chat import services as chat_services
    from chat.models import Message

    room, (alice, bob) = direct()
    group = chat_services.room_create_group(creator=alice, name="群", member_ids=[bob.pk])
    packet = send(alice, room, kind="normal", count=1, share_fen=500)
    response = client_for(alice).post(
        f"/api/packets/{packet.pk}/forward", {"room_id": group.pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "direct_packet"
    assert not Message.objects.filter(room=group, packet_id=packet.pk).exists()
    # Re-posting it in its own direct room is still allowed.
    again = client_for(alice).post(
        f"/api/packets/{packet.pk}/forward", {"room_id": room.pk}, format="json"
    )
    assert again.status_code == 201


def test_records_by_year(group, send):
    from redpacket.packets import services

    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=700)
    amount = services.packet_open(user=users[1], packet_id=packet.pk).amount_fen
    services.packet_open(user=users[2], packet_id=packet.pk)
    received = client_for(users[1]).get("/api/packets/received").json()
    assert received["total_fen"] == amount and received["count"] == 1
    assert (
        received["results"][0]["packet_id"] == packet.pk
        and received["results"][0]["amount_fen"] == amount
    )
    sent = client_for(users[0]).get("/api/packets/sent").json()
    assert sent["total_fen"] == 700 and sent["count"] == 1
    assert sent["results"][0]["state"] == "已领完"
    last_year = client_for(users[0]).get("/api/packets/sent?year=2001").json()
    assert last_year["count"] == 0 and last_year["results"] == []
    assert client_for(users[0]).get("/api/packets/sent?year=abc").status_code == 400
    best = sum(
        client_for(u).get("/api/packets/received").json()["best_luck_count"] for u in users[1:]
    )
    assert best == 1


def test_packet_endpoints_need_auth(api_client):
    for method, path in [
        ("post", "/api/packets"),
        ("get", "/api/packets/1"),
        ("post", "/api/packets/1/open"),
        ("get", "/api/packets/1/result"),
        ("get", "/api/packets/received"),
    ]:
        assert getattr(api_client, method)(path).status_code == 401


@pytest.mark.redis
def test_grab_check_needs_no_sql_once_warm(group, send, django_assert_num_queries):
    room, users = group(3)
    packet = send(users[0], room, count=2)
    client = client_for(users[1])
    assert client.get(f"/api/packets/{packet.pk}").json()["view"] == "open"  # warms the caches
    with django_assert_num_queries(0):
        body = client.get(f"/api/packets/{packet.pk}").json()
    assert body["view"] == "open" and "total_fen" not in body
    client.post(f"/api/packets/{packet.pk}/open")
    with django_assert_num_queries(0):
        assert client.get(f"/api/packets/{packet.pk}").json()["view"] == "opened"
