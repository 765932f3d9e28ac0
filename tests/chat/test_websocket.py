"""The room websocket end to end: the real ASGI application (origin check, session or
ticket auth, routing) with the configured channel layer (in-memory, or Redis in CI)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction

from chat import services
from redpacket.accounts.services import token_issue, ws_ticket_issue
from redpacket.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")


def run(coroutine_function):
    """Run an async scenario from a sync test (pytest-asyncio is not used here).

    In a thread of its own: once a Playwright test of the same session has left an event
    loop in the main thread, `async_to_sync` refuses to run there.
    """

    def in_thread():
        try:
            return async_to_sync(coroutine_function)()
        finally:
            connections.close_all()  # this thread's connection would outlive the test

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(in_thread).result()


def ticket(user) -> str:
    """A fresh one-use websocket ticket for the user (`POST /api/auth/ws-ticket`'s)."""
    return ws_ticket_issue(user=user)


def communicator(path: str, *, origin=ORIGIN, cookie: str | None = None):
    headers = [origin] if origin else []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@asynccontextmanager
async def connected(path: str, **kwargs):
    socket = communicator(path, **kwargs)
    accepted, _ = await socket.connect(timeout=3)
    assert accepted, f"{path} was refused"
    try:
        yield socket
    finally:
        await socket.disconnect()


async def refused(path: str, **kwargs) -> bool:
    socket = communicator(path, **kwargs)
    accepted, _ = await socket.connect(timeout=3)
    if accepted:
        await socket.disconnect()
    return not accepted


@pytest.fixture
def pair(make_user, group_room):
    alice, bob = make_user(), make_user()
    room = group_room(alice, bob)
    return room, alice, bob


def test_member_receives_message_new_for_another_members_api_post(pair, auth_client):
    room, alice, bob = pair
    client = auth_client(alice)

    async def scenario():
        async with connected(f"/ws/rooms/{room.pk}/?ticket={ticket(bob)}") as socket:
            response = await database_sync_to_async(client.post)(
                f"/api/rooms/{room.pk}/messages", {"text": "新年好"}, format="json"
            )
            assert response.status_code == 201
            event = await socket.receive_json_from(timeout=3)
            assert event["type"] == "message.new"
            assert event["message"]["id"] == response.json()["id"]
            assert event["message"]["text"] == "新年好"
            assert event["message"]["sender"]["id"] == alice.pk
            assert event["message"]["room_id"] == room.pk

    run(scenario)


def test_message_send_frame_posts_and_every_member_receives_it(pair):
    room, alice, bob = pair

    async def scenario():
        async with (
            connected(f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}") as alice_socket,
            connected(f"/ws/rooms/{room.pk}/?ticket={ticket(bob)}") as bob_socket,
        ):
            await alice_socket.send_json_to({"type": "message.send", "text": " 发红包啦 "})
            for socket in (bob_socket, alice_socket):
                event = await socket.receive_json_from(timeout=3)
                assert event["type"] == "message.new"
                assert event["message"]["text"] == "发红包啦"
                assert event["message"]["sender"]["id"] == alice.pk

    run(scenario)
    assert room.messages.filter(kind="text", sender=alice).count() == 1


def test_session_cookie_authenticates_the_browser(pair, client):
    room, alice, bob = pair
    client.force_login(bob)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    async def scenario():
        async with connected(f"/ws/rooms/{room.pk}/", cookie=cookie) as socket:
            await database_sync_to_async(services.message_post_text)(
                room=room, sender=alice, text="cookie"
            )
            assert (await socket.receive_json_from(timeout=3))["message"]["text"] == "cookie"

    run(scenario)


def test_non_member_anonymous_bad_ticket_and_foreign_origin_are_refused(pair, make_user):
    room, alice, _ = pair
    outsider = make_user()

    async def scenario():
        assert await refused(f"/ws/rooms/{room.pk}/?ticket={ticket(outsider)}")
        assert await refused(f"/ws/rooms/{room.pk}/")
        assert await refused(f"/ws/rooms/{room.pk}/?ticket=not-a-ticket")
        assert await refused(f"/ws/rooms/{room.pk + 999}/?ticket={ticket(alice)}")
        assert await refused(f"/ws/rooms/{10**25}/?ticket={ticket(alice)}")
        assert await refused(
            f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}",
            origin=(b"origin", b"http://evil.example"),
        )
        assert await refused(f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}", origin=None)
        assert await refused("/ws/me/?ticket=not-a-ticket")
        # The same member with the right origin is let in: the refusals above were real.
        async with connected(f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}"):
            pass

    run(scenario)


def test_message_in_a_rolled_back_transaction_is_never_delivered(pair):
    room, alice, bob = pair

    def post_then_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            services.message_post_text(room=room, sender=alice, text="rolled back")
            raise RuntimeError("the surrounding work failed")

    async def scenario():
        async with connected(f"/ws/rooms/{room.pk}/?ticket={ticket(bob)}") as socket:
            await database_sync_to_async(post_then_roll_back)()
            assert await socket.receive_nothing(timeout=0.5)
            await database_sync_to_async(services.message_post_text)(
                room=room, sender=alice, text="committed"
            )
            event = await socket.receive_json_from(timeout=3)
            assert event["message"]["text"] == "committed"

    run(scenario)
    assert not room.messages.filter(text="rolled back").exists()


def test_bad_frames_get_error_frames_and_the_socket_stays_open(pair):
    room, alice, _ = pair

    async def scenario():
        async with connected(f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}") as socket:
            await socket.send_to(text_data="{not json")
            assert (await socket.receive_json_from(timeout=3))["code"] == "parse_error"
            await socket.send_to(bytes_data=b"\x00\x01")
            assert (await socket.receive_json_from(timeout=3))["type"] == "error"
            for frame, code in [
                ({"type": "dance"}, "unknown_type"),
                (["message.send"], "unknown_type"),
                ({"type": "message.send"}, "invalid"),
                ({"type": "message.send", "text": 5}, "invalid"),
                ({"type": "message.send", "text": "   "}, "empty_text"),
                ({"type": "message.send", "text": "长" * 5000}, "text_too_long"),
            ]:
                await socket.send_json_to(frame)
                error = await socket.receive_json_from(timeout=3)
                assert error["type"] == "error" and error["code"] == code, (frame, error)
                assert error["message"]
            await socket.send_json_to({"type": "message.send", "text": "still here"})
            event = await socket.receive_json_from(timeout=3)
            assert event["type"] == "message.new" and event["message"]["text"] == "still here"

    run(scenario)
    assert list(room.messages.filter(kind="text").values_list("text", flat=True)) == ["still here"]


def test_message_send_over_the_rate_limit_gets_an_error_frame(pair, monkeypatch):
    from chat.throttles import ChatMessageThrottle

    monkeypatch.setattr(ChatMessageThrottle, "THROTTLE_RATES", {"chat": "1/min"})
    room, alice, _ = pair

    async def scenario():
        async with connected(f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}") as socket:
            await socket.send_json_to({"type": "message.send", "text": "one"})
            assert (await socket.receive_json_from(timeout=3))["type"] == "message.new"
            await socket.send_json_to({"type": "message.send", "text": "two"})
            error = await socket.receive_json_from(timeout=3)
            assert error == {"type": "error", "code": "rate_limited", "message": error["message"]}

    run(scenario)


def test_private_notice_reaches_only_its_recipient_on_any_of_their_sockets(
    pair, group_room, make_user
):
    room, alice, bob = pair
    other_room = group_room(alice, name="另一个群")

    async def scenario():
        async with (
            connected(f"/ws/rooms/{other_room.pk}/?ticket={ticket(alice)}") as alice_elsewhere,
            connected(f"/ws/me/?ticket={ticket(alice)}") as alice_me,
            connected(f"/ws/rooms/{room.pk}/?ticket={ticket(bob)}") as bob_socket,
        ):
            await database_sync_to_async(services.message_create)(
                room=room, sender=None, kind="notice", text="Bob领取了你的红包", recipient=alice
            )
            for socket in (alice_elsewhere, alice_me):
                event = await socket.receive_json_from(timeout=3)
                assert event["type"] == "message.new"
                assert event["message"]["room_id"] == room.pk  # the page filters on it
                assert event["message"]["recipient_id"] == alice.pk
            assert await bob_socket.receive_nothing(timeout=0.3)

    run(scenario)


def test_events_published_by_other_apps_are_forwarded_unchanged(pair):
    from chat.events import publish_on_commit, room_group, user_group

    room, _, bob = pair
    claimed = {
        "type": "packet.claimed",
        "packet_id": 5,
        "user": {"id": bob.pk},
        "claimed_count": 1,
        "count": 3,
    }
    credited = {"type": "wallet.credited", "amount_fen": 188, "balance_fen": 1188}

    async def scenario():
        async with connected(f"/ws/rooms/{room.pk}/?ticket={ticket(bob)}") as socket:

            def publish():
                with transaction.atomic():
                    publish_on_commit(room_group(room.pk), claimed)
                    publish_on_commit(user_group(bob.pk), credited)

            await database_sync_to_async(publish)()
            received = [await socket.receive_json_from(timeout=3) for _ in range(2)]
            assert sorted(received, key=lambda e: e["type"]) == [claimed, credited]

    run(scenario)


def _events_of_a_post(room, alice, bob):
    """Alice and Bob connected to `room`, Alice posts "hi": the event each receives."""

    async def scenario():
        async with (
            connected(f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}") as alice_socket,
            connected(f"/ws/rooms/{room.pk}/?ticket={ticket(bob)}") as bob_socket,
        ):
            await database_sync_to_async(services.message_post_text)(
                room=room, sender=alice, text="hi"
            )
            return await asyncio.gather(
                alice_socket.receive_json_from(timeout=3), bob_socket.receive_json_from(timeout=3)
            )

    return run(scenario)


def test_message_new_is_decorated_for_each_viewer(pair, message_decorator):
    room, alice, bob = pair

    @message_decorator
    def add_viewer(messages, viewer):
        for message in messages:
            message["seen_by"] = viewer.pk

    alice_event, bob_event = _events_of_a_post(room, alice, bob)
    assert alice_event["message"]["seen_by"] == alice.pk
    assert bob_event["message"]["seen_by"] == bob.pk


def test_member_added_later_can_connect(pair, make_user):
    room, alice, _ = pair
    carol = make_user()

    async def scenario():
        assert await refused(f"/ws/rooms/{room.pk}/?ticket={ticket(carol)}")
        await database_sync_to_async(services.room_add_members)(
            room=room, actor=alice, user_ids=[carol.pk]
        )
        async with connected(f"/ws/rooms/{room.pk}/?ticket={ticket(carol)}"):
            pass

    run(scenario)


def test_an_unknown_websocket_path_is_refused_cleanly():
    async def scenario():
        socket = communicator("/ws/nowhere/")
        accepted, _ = await socket.connect(timeout=3)
        await socket.disconnect()
        return accepted

    assert run(scenario) is False


def test_connections_receiving_one_event_share_its_viewer_independent_lookups(
    pair, message_decorator
):
    from chat import hooks

    room, alice, bob = pair
    lookups = []

    @message_decorator
    def shared_state(messages, viewer):
        shared = hooks.shared_lookups()
        assert shared is not None  # a fan-out: one dict per event and process
        if "state" not in shared:
            lookups.append(viewer.pk)
            shared["state"] = "looked up once"
        for message in messages:
            message["state"], message["seen_by"] = shared["state"], viewer.pk

    alice_event, bob_event = _events_of_a_post(room, alice, bob)
    assert (alice_event["message"]["seen_by"], bob_event["message"]["seen_by"]) == (
        alice.pk,
        bob.pk,
    )
    assert alice_event["message"]["state"] == bob_event["message"]["state"]
    assert len(lookups) == 1
    assert hooks.shared_lookups() is None  # only inside a fan-out


def test_long_lived_token_in_the_url_is_refused_even_for_a_member(pair):
    """Issue #16 finding 2: `?token=<API token>` used to open the socket (and the token
    ended up in proxy logs). Now it is refused, whatever else the request carries."""
    room, alice, _ = pair
    token = token_issue(user=alice).key

    async def scenario():
        assert await refused(f"/ws/rooms/{room.pk}/?token={token}")
        assert await refused(f"/ws/me/?token={token}")
        assert await refused(f"/ws/rooms/{room.pk}/?ticket={ticket(alice)}&token={token}")

    run(scenario)


def test_a_ticket_from_the_api_opens_one_socket_once(pair, auth_client):
    room, alice, _ = pair
    client = auth_client(alice)
    response = client.post("/api/auth/ws-ticket")
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 60 and len(body["ticket"]) >= 20

    async def scenario():
        async with connected(f"/ws/rooms/{room.pk}/?ticket={body['ticket']}"):
            pass
        assert await refused(f"/ws/rooms/{room.pk}/?ticket={body['ticket']}")

    run(scenario)


def test_an_expired_ticket_is_refused(pair, settings):
    import time

    room, alice, _ = pair
    settings.WS_TICKET_TTL_SECONDS = 1
    stale = ticket(alice)
    time.sleep(1.2)

    async def scenario():
        assert await refused(f"/ws/rooms/{room.pk}/?ticket={stale}")

    run(scenario)


def test_an_invitation_reaches_the_invitees_own_connections(pair, make_user):
    room, alice, _bob = pair
    stranger = make_user()

    async def scenario():
        async with connected(f"/ws/me/?ticket={ticket(stranger)}") as socket:
            await database_sync_to_async(services.group_add)(
                room=room, actor=alice, user_ids=[stranger.pk]
            )
            event = await socket.receive_json_from(timeout=3)
            assert event["type"] == "invitation.new"
            assert event["invitation"]["room"]["id"] == room.pk
            assert event["invitation"]["inviter"]["id"] == alice.pk

    run(scenario)


def test_every_member_of_a_busy_room_gets_its_own_decoration_without_a_thread_trip_each(
    make_user, group_room, message_decorator, monkeypatch
):
    import channels.consumer

    from chat import consumers

    owner = make_user()
    members = [make_user() for _ in range(11)]
    room = group_room(owner, *members)
    viewers = [owner, *members]
    trips = {"frames": 0, "close_old": 0}

    @message_decorator
    def add_viewer(messages, viewer):
        for message in messages:
            message["seen_by"] = viewer.pk

    frames = consumers._Batch.frames

    def counted_frames(batch):
        trips["frames"] += 1
        return frames(batch)

    monkeypatch.setattr(consumers._Batch, "frames", counted_frames)
    close_old = channels.consumer.aclose_old_connections

    async def counted_close_old():
        trips["close_old"] += 1
        await close_old()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted_close_old)
    tickets = [ticket(viewer) for viewer in viewers]

    async def scenario():
        sockets = [communicator(f"/ws/rooms/{room.pk}/?ticket={t}") for t in tickets]
        for socket in sockets:
            assert (await socket.connect(timeout=3))[0]
        try:
            trips.update(frames=0, close_old=0)
            await database_sync_to_async(services.message_post_text)(
                room=room, sender=owner, text="大家好"
            )
            events = await asyncio.gather(*(s.receive_json_from(timeout=5) for s in sockets))
            return events, dict(trips)  # before the disconnects (they do check)
        finally:
            for socket in sockets:
                await socket.disconnect()

    received, trips = run(scenario)
    assert [event["message"]["seen_by"] for event in received] == [v.pk for v in viewers]
    assert {event["message"]["text"] for event in received} == {"大家好"}
    # Twelve connections, one event: no stale-connection check per forward, and fewer
    # trips to the sync thread than connections (all twelve in one, unless the thread
    # started before the last consumer woke).
    assert trips["close_old"] == 0
    assert 1 <= trips["frames"] < len(viewers)


def test_a_batch_decorates_per_viewer_and_shares_equal_frames(make_user, message_decorator):
    from chat.consumers import _Batch

    alice, bob, carol = make_user(), make_user(), make_user()

    @message_decorator
    def opened_by_alice(messages, viewer):
        for message in messages:
            message["opened"] = viewer.pk == alice.pk

    event = {"type": "message.new", "message": {"id": 7, "text": "红包", "kind": "text"}}
    batch = _Batch(event)
    for viewer, language in ((alice, "zh-hans"), (bob, "zh-hans"), (carol, "zh-hans"), (bob, "en")):
        assert batch.join(viewer, language)
    frames = batch.frames()
    assert not batch.join(make_user(), "zh-hans")  # closed once the thread took it
    assert json.loads(frames[(alice.pk, "zh-hans")])["message"]["opened"] is True
    assert json.loads(frames[(bob.pk, "zh-hans")])["message"]["opened"] is False
    # Bob and Carol see the same bubble in the same language: one frame for both.
    assert frames[(bob.pk, "zh-hans")] is frames[(carol.pk, "zh-hans")]
    assert frames[(bob.pk, "en")] == frames[(bob.pk, "zh-hans")]  # no notice to translate
    assert event == {"type": "message.new", "message": {"id": 7, "text": "红包", "kind": "text"}}
