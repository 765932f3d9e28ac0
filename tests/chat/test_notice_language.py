"""Notices are stored as a key and its parameters and read in each viewer's language:
the history API, the room list, the room page and the websocket events. Rows from before
keys keep their stored text."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat import services
from chat.models import Message
from redpacket.asgi import application
from redpacket.packets import services as packet_services
from tests.chat.test_websocket import ORIGIN, run, ticket
from tests.invariants import assert_invariants
from tests.redpacket.conftest import send  # noqa: F401 - the send fixture
from tests.wallet.conftest import bind_card, fund  # noqa: F401
from wallet.crediting import credits_drain

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def history_texts(user, room, language: str) -> list[str]:
    body = client_for(user, language).get(f"/api/rooms/{room.pk}/messages").json()
    return [message["text"] for message in body["results"] if message["kind"] == "notice"]


@pytest.fixture
def claimed(make_user, fund, send):  # noqa: F811
    """Alice's packet of 1 in a group, opened by Bob: "Bob领取了你的红包" and
    "你的红包已被领完" for Alice."""
    alice = make_user(display_name="Alice")
    bob = make_user(display_name="Bob")
    fund(alice, 10_000)
    room = services.room_create_group(creator=alice, name="群", member_ids=[bob.pk])
    packet = send(alice, room, count=1, total_fen=100)
    packet_services.packet_open(user=bob, packet_id=packet.pk)
    credits_drain()  # the sender's notices are stored with the credit (no worker here)
    return room, alice, bob, packet


def test_a_claim_notice_is_stored_as_key_and_params(claimed):
    room, alice, _bob, packet = claimed
    notices = Message.objects.filter(room=room, recipient=alice).order_by("pk")
    assert [(n.notice_key, n.notice_params) for n in notices] == [
        ("packet_claimed", {"name": "Bob"}),
        ("packet_finished", {}),
    ]
    # The stored text stays in the site's language: the fallback and the admin's.
    assert [n.text for n in notices] == ["Bob领取了你的红包", "你的红包已被领完"]
    assert all(n.packet_id == packet.pk for n in notices)
    assert_invariants()


def test_a_claim_notice_reads_in_each_viewers_language(claimed):
    room, alice, _bob, _packet = claimed
    assert history_texts(alice, room, "en")[:2] == [
        "All of your red packet has been taken",
        "Bob opened your red packet",
    ]
    assert history_texts(alice, room, "zh-hans")[:2] == ["你的红包已被领完", "Bob领取了你的红包"]
    body = client_for(alice, "en").get(f"/api/rooms/{room.pk}/messages").json()
    notice = next(m for m in body["results"] if m["kind"] == "notice")
    assert notice["notice"] == {"key": "packet_finished", "params": {}}
    assert_invariants()


def test_the_room_list_preview_and_room_page_read_in_english(claimed):
    room, alice, _bob, _packet = claimed
    english = client_for(alice, "en")
    html = english.get(f"/chat/rooms/{room.pk}/").content.decode()
    assert "Bob opened your red packet" in html and "Bob领取了你的红包" not in html
    rooms = english.get("/chat/").content.decode()
    assert "All of your red packet has been taken" in rooms and "你的红包已被领完" not in rooms
    assert_invariants()


def test_an_invitation_notice_reads_in_each_viewers_language(make_user):
    alice = make_user(display_name="Alice")
    bob, carol = make_user(display_name="Bob"), make_user(display_name="Carol")
    room = services.room_create_group(creator=alice, name="群", member_ids=[bob.pk, carol.pk])
    notice = Message.objects.get(room=room, kind="notice")
    assert notice.notice_key == "members_invited"
    assert notice.text == "Alice邀请Bob、Carol加入了群聊"
    assert history_texts(bob, room, "en") == ["Alice invited Bob, Carol to the group chat"]
    assert history_texts(bob, room, "zh-hans") == ["Alice邀请Bob、Carol加入了群聊"]


def test_many_invited_names_end_in_and_others(make_user):
    alice = make_user(display_name="Alice")
    others = [make_user(display_name=f"U{i}") for i in range(12)]
    room = services.room_create_group(
        creator=alice, name="大群", member_ids=[user.pk for user in others]
    )
    names = ", ".join(f"U{i}" for i in range(10))
    assert history_texts(alice, room, "en") == [
        f"Alice invited {names} and others (12 people) to the group chat"
    ]
    zh_names = "、".join(f"U{i}" for i in range(10))
    assert history_texts(alice, room, "zh-hans") == [f"Alice邀请{zh_names}等12人加入了群聊"]


def test_an_old_notice_without_a_key_keeps_its_stored_text(make_user):
    alice, bob = make_user(), make_user()
    room = services.room_create_group(creator=alice, name="群", member_ids=[bob.pk])
    services.message_create(
        room=room, sender=None, kind="notice", text="Bob领取了你的红包", recipient=alice
    )
    assert "Bob领取了你的红包" in history_texts(alice, room, "en")


def test_an_unknown_notice_key_is_refused(make_user):
    from redpacket.kernel.errors import InvalidInput

    alice, bob = make_user(), make_user()
    room = services.room_create_group(creator=alice, name="群", member_ids=[bob.pk])
    with pytest.raises(InvalidInput):
        services.message_create(room=room, sender=None, kind="notice", notice_key="nope")


def _socket(path: str, language: bytes) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, path, headers=[ORIGIN, (b"accept-language", language)]
    )


def test_the_notice_event_reaches_each_connection_in_its_language(make_user, fund, send):  # noqa: F811
    alice = make_user(display_name="Alice")
    bob = make_user(display_name="Bob")
    fund(alice, 10_000)
    room = services.room_create_group(creator=alice, name="群", member_ids=[bob.pk])
    packet = send(alice, room, count=2, total_fen=300)

    async def notice_of(socket) -> dict:
        while True:
            event = await socket.receive_json_from(timeout=3)
            if event["type"] == "notice":
                return event

    async def scenario():
        english = _socket(f"/ws/me/?ticket={ticket(alice)}", b"en-GB,en;q=0.9")
        chinese = _socket(f"/ws/me/?ticket={ticket(alice)}", b"zh-CN,zh;q=0.9")
        assert (await english.connect(timeout=3))[0] and (await chinese.connect(timeout=3))[0]
        try:
            await database_sync_to_async(packet_services.packet_open)(user=bob, packet_id=packet.pk)
            await database_sync_to_async(credits_drain)()  # the notice comes with the credit
            event = await notice_of(english)
            assert event["text"] == "Bob opened your red packet"
            assert event["message"]["text"] == "Bob opened your red packet"
            assert event["message"]["notice"] == {
                "key": "packet_claimed",
                "params": {"name": "Bob"},
            }
            event = await notice_of(chinese)
            assert event["text"] == event["message"]["text"] == "Bob领取了你的红包"
        finally:
            await english.disconnect()
            await chinese.disconnect()

    run(scenario)
    assert_invariants()
