"""服务通知 (SPEC §4 "Money notices"): the events every money movement of a user raises on
their own channel (API.md "Websocket"), the list they are derived from (the user's
ledger), its catch-up endpoint, the badge and the read marker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from redpacket.accounts.selectors import user_data
from redpacket.packets import services as packets
from redpacket.packets.models import Claim, Packet
from tests.invariants import assert_invariants
from tests.redpacket.conftest import group, send  # noqa: F401 - fixtures
from tests.wallet.conftest import DECLINED_CARD, PIN
from wallet import selectors, services
from wallet.models import BankCard, NoticesSeen

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Every event published after commit, as (group, event)."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "redpacket.kernel.events._send_now", lambda channel, event: events.append((channel, event))
    )
    return events


def of_type(sent, event_type):
    return [(channel, event) for channel, event in sent if event["type"] == event_type]


def credit_pending_claims():
    for claim in Claim.objects.filter(credit_status="pending"):
        packets.claim_credit(claim_id=claim.pk)


def expire_now(packet):
    Packet.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return packets.packet_expire(packet_id=packet.pk)


# --- events --------------------------------------------------------------------------------


def test_incoming_transfer_tells_the_recipient_once(
    make_user, fund, sent, django_capture_on_commit_callbacks
):
    alice, bob = make_user(), make_user()
    fund(alice, 5_000)
    fund(bob, 100)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_transfer(sender=alice, recipient=bob, amount_fen=1_234, request_key="t1")
    assert of_type(sent, "wallet.received") == [
        (
            f"user.{bob.pk}",
            {
                "type": "wallet.received",
                "amount_fen": 1_234,
                "balance_fen": 1_334,
                "from": user_data(alice),
            },
        )
    ]
    # The same request again moves nothing and says nothing; the sender hears nothing.
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_transfer(sender=alice, recipient=bob, amount_fen=1_234, request_key="t1")
    assert len(of_type(sent, "wallet.received")) == 1
    assert not [channel for channel, _ in sent if channel == f"user.{alice.pk}"]
    assert_invariants()


def test_topup_and_withdrawal_raise_their_notices(
    make_user, bind_card, sent, django_capture_on_commit_callbacks
):
    user = make_user()
    card = bind_card(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_topup(user=user, card=card, amount_fen=8_000, request_key="top")
        services.wallet_topup(user=user, card=card, amount_fen=8_000, request_key="top")
        services.wallet_withdraw(user=user, card=card, amount_fen=3_000, request_key="out")
    assert sent == [
        (
            f"user.{user.pk}",
            {"type": "wallet.topped_up", "amount_fen": 8_000, "balance_fen": 8_000},
        ),
        (
            f"user.{user.pk}",
            {"type": "wallet.withdrawn", "amount_fen": 3_000, "balance_fen": 5_000},
        ),
    ]
    assert_invariants()


def test_withdrawal_the_bank_refuses_raises_no_withdrawn_notice(
    make_user, fund, bind_card, sent, django_capture_on_commit_callbacks
):
    from wallet import errors

    user = make_user()
    fund(user, 5_000)
    declined = bind_card(user, number=DECLINED_CARD, pin=PIN)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(errors.CardDeclined):
        services.wallet_withdraw(user=user, card=declined, amount_fen=1_000, request_key="w")
    assert of_type(sent, "wallet.withdrawn") == []
    assert selectors.balance_of(user) == 5_000
    assert_invariants()


def test_refund_of_an_expired_packet_tells_the_sender_once(
    group,  # noqa: F811
    send,  # noqa: F811
    sent,
    django_capture_on_commit_callbacks,
):
    room, users = group(3)
    packet = send(users[0], room, count=3, total_fen=900)
    with django_capture_on_commit_callbacks(execute=True):
        opened = packets.packet_open(user=users[1], packet_id=packet.pk).amount_fen
        credit_pending_claims()
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_now(packet) is True
        assert packets.packet_expire(packet_id=packet.pk, force=True) is False
    assert of_type(sent, "wallet.refunded") == [
        (
            f"user.{users[0].pk}",
            {
                "type": "wallet.refunded",
                "amount_fen": 900 - opened,
                "balance_fen": 100_000 - opened,
                "packet_id": packet.pk,
            },
        )
    ]
    assert_invariants()


# --- the list, the catch-up endpoint, the badge ------------------------------------------------


def test_notices_are_the_users_money_in_and_out_with_links(
    make_user,
    fund,
    group,  # noqa: F811
    send,  # noqa: F811
    auth_client,
    django_capture_on_commit_callbacks,
):
    room, (alice, bob, carol) = group(3)
    with django_capture_on_commit_callbacks(execute=True):
        packet = send(alice, room, count=2, total_fen=600)
        share = packets.packet_open(user=bob, packet_id=packet.pk).amount_fen
        credit_pending_claims()
        services.wallet_transfer(sender=carol, recipient=bob, amount_fen=250, request_key="gift")
        services.wallet_transfer(sender=bob, recipient=carol, amount_fen=50, request_key="back")
        card = BankCard.objects.get(user=bob)
        services.wallet_withdraw(user=bob, card=card, amount_fen=100, request_key="w1")
        expire_now(packet)

    client = auth_client(bob)
    body = client.get("/api/wallet/notices").json()
    # Bob: his top-up (the fixture's), the share, Carol's transfer, his withdrawal. His own
    # outgoing transfer is no notice.
    assert [(n["kind"], n["amount_fen"]) for n in body["results"]] == [
        ("topup", 100_000),
        ("claim_credit", share),
        ("transfer", 250),
        ("withdraw", -100),
    ]
    claim_notice, transfer_notice, withdraw_notice = body["results"][1:]
    assert claim_notice["title"] == "红包入账"
    assert claim_notice["packet_id"] == packet.pk
    assert claim_notice["url"] == f"/packets/{packet.pk}/result/"
    assert transfer_notice["title"] == "收到转账"
    assert transfer_notice["sender"] == user_data(carol)
    assert transfer_notice["url"] == f"/wallet/ledger/#entry-{transfer_notice['id']}"
    assert withdraw_notice["title"] == "提现"
    assert body["unseen"] == 4 and body["last_id"] == withdraw_notice["id"]
    # Catching up: only what came after the id the page knows.
    after = client.get(f"/api/wallet/notices?after={claim_notice['id']}").json()
    assert [n["id"] for n in after["results"]] == [transfer_notice["id"], withdraw_notice["id"]]

    refund = auth_client(alice).get("/api/wallet/notices").json()["results"][-1]
    assert (refund["kind"], refund["title"]) == ("packet_refund", "红包退款")
    assert refund["amount_fen"] == 600 - share
    assert (refund["packet_id"], refund["url"]) == (packet.pk, f"/packets/{packet.pk}/result/")
    assert_invariants()


def test_visiting_the_notices_page_clears_the_badge(make_user, fund, client):
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    services.wallet_transfer(sender=alice, recipient=bob, amount_fen=300, request_key="t")
    services.wallet_transfer(sender=alice, recipient=bob, amount_fen=200, request_key="u")
    client.force_login(bob)

    home = client.get("/wallet/").content.decode()
    assert "data-notice-badge>2</span>" in home
    assert selectors.notice_state(user=bob).unseen == 2

    page = client.get("/wallet/notices/").content.decode()
    assert page.count('class="notice-item"') == 2
    assert "收到转账" in page and "+3.00" in page and "来自" + alice.display_name in page
    assert selectors.notice_state(user=bob).unseen == 0
    assert "data-notice-badge hidden></span>" in client.get("/wallet/").content.decode()

    services.wallet_transfer(sender=alice, recipient=bob, amount_fen=100, request_key="v")
    assert selectors.notice_state(user=bob).unseen == 1
    assert_invariants()


def test_the_read_marker_only_moves_forward(make_user, fund, auth_client):
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    for key in ("a", "b", "c"):
        services.wallet_transfer(sender=alice, recipient=bob, amount_fen=100, request_key=key)
    client = auth_client(bob)
    ids = [n["id"] for n in client.get("/api/wallet/notices").json()["results"]]
    assert (
        client.post("/api/wallet/notices/seen", {"up_to": ids[1]}, format="json").status_code == 204
    )
    assert client.get("/api/wallet/notices").json()["unseen"] == 1
    client.post("/api/wallet/notices/seen", {"up_to": ids[0]}, format="json")  # an older tab
    assert NoticesSeen.objects.get(user=bob).up_to_entry_id == ids[1]
    assert_invariants()


def test_notices_endpoint_refuses_bad_input_and_strangers(make_user, auth_client, api_client):
    client = auth_client(make_user())
    for bad in ("x", "-1", "1.5"):
        response = client.get(f"/api/wallet/notices?after={bad}")
        assert response.status_code == 400 and "after" in response.json()["fields"]
    response = client.post("/api/wallet/notices/seen", {"up_to": "1"}, format="json")
    assert response.status_code == 400 and "up_to" in response.json()["fields"]
    assert api_client.get("/api/wallet/notices").status_code == 401


# --- the result page's credit line ------------------------------------------------------------


def test_result_says_crediting_until_the_share_is_credited(
    group,  # noqa: F811
    send,  # noqa: F811
    auth_client,
    monkeypatch,
):
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=600)
    client = auth_client(users[1])
    with monkeypatch.context() as slow_worker:  # the credit is queued, not yet run
        slow_worker.setattr("wallet.crediting.credit_wake", lambda: None)
        assert client.post(f"/api/packets/{packet.pk}/open").status_code == 200
    body = client.get(f"/api/packets/{packet.pk}/result").json()
    assert (body["credited"], body["credit_line"]) == (False, "入账中…")
    stranger = auth_client(users[2]).get(f"/api/packets/{packet.pk}/result").json()
    assert (stranger["credited"], stranger["credit_line"]) == (None, None)
    credit_pending_claims()
    body = client.get(f"/api/packets/{packet.pk}/result").json()
    assert body["credited"] is True and body["credit_line"].startswith("已存入零钱，可用于")
    assert_invariants()


def test_result_page_listens_on_a_room_of_the_packet(group, send, client):  # noqa: F811
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=600)
    client.force_login(users[1])
    page = client.get(f"/packets/{packet.pk}/result/").content.decode()
    assert f'data-live-socket="/ws/rooms/{room.pk}/"' in page
    assert "js/redpacket-result.js" in page


# --- over the websocket ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_transfer_reaches_the_users_own_socket_and_their_room_sockets(
    make_user, fund, auth_client
):
    from channels.db import database_sync_to_async

    from chat import services as chat_services
    from tests.chat.test_websocket import connected, run, ticket

    alice, bob = make_user(), make_user()
    fund(alice, 2_000)
    room = chat_services.room_create_group(creator=alice, name="群", member_ids=[bob.pk])
    client = auth_client(alice)

    def transfer():
        return client.post(
            "/api/wallet/transfer",
            {"to_user_id": bob.pk, "amount_fen": 520, "pin": PIN},
            format="json",
            HTTP_IDEMPOTENCY_KEY="ws-transfer",
        )

    expected = {
        "type": "wallet.received",
        "amount_fen": 520,
        "balance_fen": 520,
        "from": user_data(alice),
    }

    async def scenario():
        async with (
            connected(f"/ws/me/?ticket={ticket(bob)}") as me,
            connected(f"/ws/rooms/{room.pk}/?ticket={ticket(bob)}") as in_room,
            connected(f"/ws/me/?ticket={ticket(alice)}") as sender,
        ):
            response = await database_sync_to_async(transfer)()
            assert response.status_code == 200, response.content
            assert await me.receive_json_from(timeout=3) == expected
            assert await in_room.receive_json_from(timeout=3) == expected
            assert await sender.receive_nothing(timeout=0.3)

    run(scenario)
    assert_invariants()
