import pytest

from chat import services
from chat.models import Membership, Message, Room

pytestmark = pytest.mark.django_db


def assert_error(response, status, code=None, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) <= {"code", "message", "fields"}
    assert isinstance(body["code"], str) and isinstance(body["message"], str) and body["message"]
    if code:
        assert body["code"] == code
    if field:
        assert field in body["fields"]
    return body


def test_create_group_room_makes_the_creator_a_member(auth_client, make_user):
    client = auth_client()
    bob, carol = make_user(), make_user()
    # Acquaintances join at once (strangers are invited: tests/chat/test_invitations.py).
    services.room_create_group(creator=client.user, name="老群", member_ids=[bob.pk, carol.pk])
    response = client.post(
        "/api/rooms",
        {"kind": "group", "name": "春节聚会", "member_ids": [bob.pk, carol.pk]},
        format="json",
    )
    assert response.status_code == 201
    room = response.json()
    assert {"id", "kind", "name", "member_count", "members"} <= set(room)
    assert room["kind"] == "group" and room["name"] == "春节聚会" and room["member_count"] == 3
    assert [m["id"] for m in room["members"]] == [client.user.pk, bob.pk, carol.pk]
    assert set(room["members"][0]) >= {"id", "username", "display_name", "avatar_colour"}


def test_create_direct_room_twice_returns_the_same_room(auth_client, make_user):
    client = auth_client()
    bob = make_user(display_name="鲍勃")
    first = client.post("/api/rooms", {"kind": "direct", "user_id": bob.pk}, format="json")
    second = client.post("/api/rooms", {"kind": "direct", "user_id": bob.pk}, format="json")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["kind"] == "direct" and first.json()["member_count"] == 2
    assert first.json()["name"] == "鲍勃"  # the other person's name, for this viewer
    from_bob = auth_client(bob).post(
        "/api/rooms", {"kind": "direct", "user_id": client.user.pk}, format="json"
    )
    assert from_bob.status_code == 200 and from_bob.json()["id"] == first.json()["id"]
    assert from_bob.json()["name"] == client.user.name
    assert Room.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "group", "member_ids": []}, "name"),
        ({"kind": "group", "name": "", "member_ids": []}, "name"),
        ({"kind": "group", "name": "群" * 31}, "name"),
        ({"kind": "group", "name": "群", "member_ids": [424242]}, "member_ids"),
        ({"kind": "group", "name": "群", "member_ids": ["abc"]}, "member_ids"),
        ({"kind": "group", "name": "群", "member_ids": "1,2"}, "member_ids"),
        ({"kind": "group", "name": "群", "member_ids": [10**30]}, "member_ids"),
        ({"kind": "direct"}, "user_id"),
        ({"kind": "direct", "user_id": "x"}, "user_id"),
        ({"kind": "direct", "user_id": 424242}, "user_id"),
        ({"kind": "direct", "user_id": None}, "user_id"),
        ({"kind": "channel", "name": "x"}, "kind"),
        ({}, "kind"),
    ],
)
def test_create_room_bad_input_is_400_and_creates_nothing(auth_client, payload, field):
    client = auth_client()
    response = client.post("/api/rooms", payload, format="json")
    assert_error(response, 400, field=field)
    assert not Room.objects.exists()


def test_direct_room_with_yourself_is_400(auth_client):
    client = auth_client()
    response = client.post(
        "/api/rooms", {"kind": "direct", "user_id": client.user.pk}, format="json"
    )
    assert_error(response, 400, code="direct_self", field="user_id")


def test_garbage_json_is_400_parse_error(auth_client, group_room):
    client = auth_client()
    room = group_room(client.user)
    for path in ("/api/rooms", f"/api/rooms/{room.pk}/messages", f"/api/rooms/{room.pk}/members"):
        response = client.post(path, data="{not json", content_type="application/json")
        assert_error(response, 400, code="parse_error")
    assert Message.objects.filter(kind="text").count() == 0


def test_rooms_list_shows_only_my_rooms_paginated(auth_client, group_room, make_user):
    client = auth_client()
    mine = group_room(client.user, name="我的群")
    group_room(make_user(), name="别人的群")
    services.message_post_text(room=mine, sender=client.user, text="最新一条")
    response = client.get("/api/rooms")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next"} and body["next"] is None
    assert [room["name"] for room in body["results"]] == ["我的群"]
    assert body["results"][0]["last_message"]["text"] == "最新一条"
    assert body["results"][0]["unread"] == 0


def test_non_member_gets_404_for_room_messages_and_posting(auth_client, group_room):
    owner = auth_client()
    room = group_room(owner.user)
    services.message_post_text(room=room, sender=owner.user, text="secret")
    stranger = auth_client()
    missing = room.pk + 1000
    for path in (f"/api/rooms/{room.pk}", f"/api/rooms/{missing}"):
        assert_error(stranger.get(path), 404, code="not_found")
    assert_error(stranger.get(f"/api/rooms/{room.pk}/messages"), 404, code="not_found")
    posted = stranger.post(f"/api/rooms/{room.pk}/messages", {"text": "hi"}, format="json")
    assert_error(posted, 404, code="not_found")
    added = stranger.post(
        f"/api/rooms/{room.pk}/members", {"user_ids": [stranger.user.pk]}, format="json"
    )
    assert_error(added, 404, code="not_found")
    # The same answer as a room that does not exist: nothing is revealed.
    assert (
        stranger.get(f"/api/rooms/{room.pk}").json() == stranger.get(f"/api/rooms/{missing}").json()
    )
    assert not Membership.objects.filter(user=stranger.user).exists()
    assert Message.objects.filter(sender=stranger.user).count() == 0


def test_anonymous_is_401(api_client, group_room):
    room = group_room()
    for path in ("/api/rooms", f"/api/rooms/{room.pk}", f"/api/rooms/{room.pk}/messages"):
        assert_error(api_client.get(path), 401, code="not_authenticated")


def test_huge_room_id_is_404_not_500(auth_client):
    client = auth_client()
    assert_error(client.get(f"/api/rooms/{10**30}"), 404)
    assert_error(client.get(f"/api/rooms/{10**30}/messages"), 404)


def test_member_posts_text_and_gets_201_message(auth_client, group_room):
    client = auth_client()
    room = group_room(client.user)
    response = client.post(f"/api/rooms/{room.pk}/messages", {"text": "  新年好  "}, format="json")
    assert response.status_code == 201
    message = response.json()
    assert {"id", "kind", "sender", "text", "packet_id", "created_at", "room_id"} <= set(message)
    assert (
        message["kind"] == "text" and message["text"] == "新年好" and message["packet_id"] is None
    )
    assert message["sender"]["id"] == client.user.pk and message["room_id"] == room.pk
    assert message["created_at"].endswith("Z")  # ISO 8601 UTC


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"text": ""}, "empty_text"),
        ({"text": "   \n "}, "empty_text"),
        ({"text": "长" * 5000}, "text_too_long"),
        ({}, "invalid"),
        ({"text": None}, "invalid"),
        ({"text": ["a"]}, "invalid"),
    ],
)
def test_bad_message_is_400_with_text_field_and_not_stored(auth_client, group_room, payload, code):
    client = auth_client()
    room = group_room(client.user)
    response = client.post(f"/api/rooms/{room.pk}/messages", payload, format="json")
    assert_error(response, 400, code=code, field="text")
    assert not Message.objects.filter(kind="text").exists()


def test_history_pages_newest_first_with_before_and_next(auth_client, group_room):
    client = auth_client()
    room = group_room(client.user)
    sent = [
        services.message_post_text(room=room, sender=client.user, text=f"m{i}") for i in range(65)
    ]
    first = client.get(f"/api/rooms/{room.pk}/messages").json()
    assert [m["text"] for m in first["results"]] == [f"m{i}" for i in range(64, 34, -1)]
    assert first["next"] and f"before={sent[35].pk}" in first["next"]
    second = client.get(first["next"]).json()
    assert [m["text"] for m in second["results"]] == [f"m{i}" for i in range(34, 4, -1)]
    third = client.get(second["next"]).json()
    assert [m["text"] for m in third["results"]] == ["m4", "m3", "m2", "m1", "m0"]
    assert third["next"] is None
    explicit = client.get(f"/api/rooms/{room.pk}/messages?before={sent[2].pk}").json()
    assert [m["text"] for m in explicit["results"]] == ["m1", "m0"]


def test_history_after_returns_what_a_client_missed(auth_client, group_room):
    client = auth_client()
    room = group_room(client.user)
    sent = [
        services.message_post_text(room=room, sender=client.user, text=f"m{i}") for i in range(5)
    ]
    body = client.get(f"/api/rooms/{room.pk}/messages?after={sent[1].pk}&limit=2").json()
    assert [m["text"] for m in body["results"]] == ["m4", "m3"]
    rest = client.get(body["next"]).json()
    assert [m["text"] for m in rest["results"]] == ["m2"] and rest["next"] is None


@pytest.mark.parametrize(
    "query",
    [
        "before=abc",
        "before=-5",
        "before=0",
        "before=1.5",
        f"before={10**30}",
        "limit=0",
        "limit=1000",
        "after=x",
    ],
)
def test_bad_history_query_is_400(auth_client, group_room, query):
    client = auth_client()
    room = group_room(client.user)
    field = query.split("=")[0]
    assert_error(client.get(f"/api/rooms/{room.pk}/messages?{query}"), 400, field=field)


def test_history_never_shows_someone_elses_private_notice(auth_client, group_room, make_user):
    alice = auth_client()
    bob = auth_client()
    room = group_room(alice.user, bob.user)
    services.message_create(
        room=room, sender=None, kind="notice", text="Bob领取了你的红包", recipient=alice.user
    )
    alice_texts = [m["text"] for m in alice.get(f"/api/rooms/{room.pk}/messages").json()["results"]]
    bob_texts = [m["text"] for m in bob.get(f"/api/rooms/{room.pk}/messages").json()["results"]]
    assert "Bob领取了你的红包" in alice_texts and "Bob领取了你的红包" not in bob_texts


def test_history_and_post_pass_through_registered_decorators(
    auth_client, group_room, message_decorator
):
    alice, bob = auth_client(), auth_client()
    room = group_room(alice.user, bob.user)
    services.message_create(
        room=room, sender=alice.user, kind="packet", packet_id=99, text="恭喜发财"
    )

    @message_decorator
    def add_viewer(messages, viewer):
        for message in messages:
            if message["kind"] == "packet":
                message["packet"] = {"seen_by": viewer.username}

    for client in (alice, bob):
        results = client.get(f"/api/rooms/{room.pk}/messages").json()["results"]
        packet = next(m for m in results if m["kind"] == "packet")
        assert packet["packet_id"] == 99
        assert packet["packet"] == {"seen_by": client.user.username}


def test_add_members_to_group_returns_room(auth_client, group_room, make_user):
    client = auth_client()
    room = group_room(client.user)
    carol = make_user()
    group_room(client.user, carol, name="老群")  # an acquaintance joins at once
    response = client.post(f"/api/rooms/{room.pk}/members", {"user_ids": [carol.pk]}, format="json")
    assert response.status_code == 200
    assert response.json()["invited"] == []
    assert response.json()["member_count"] == 2
    assert carol.pk in [m["id"] for m in response.json()["members"]]


def test_add_members_to_direct_room_is_400_direct_room(auth_client, make_user):
    client = auth_client()
    bob, carol = make_user(), make_user()
    room, _ = services.room_get_or_create_direct(user=client.user, other_user_id=bob.pk)
    response = client.post(f"/api/rooms/{room.pk}/members", {"user_ids": [carol.pk]}, format="json")
    assert_error(response, 400, code="direct_room")
    assert room.memberships.count() == 2


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"user_ids": [424242]}, "unknown_user"),
        ({"user_ids": []}, "invalid"),
        ({"user_ids": ["x"]}, "invalid"),
        ({"user_ids": 5}, "invalid"),
        ({}, "invalid"),
    ],
)
def test_add_members_bad_input_is_400(auth_client, group_room, payload, code):
    client = auth_client()
    room = group_room(client.user)
    response = client.post(f"/api/rooms/{room.pk}/members", payload, format="json")
    assert_error(response, 400, code=code, field="user_ids")
    assert room.memberships.count() == 1


def test_mark_read_clears_unread(auth_client, group_room):
    alice, bob = auth_client(), auth_client()
    room = group_room(alice.user, bob.user)
    message = services.message_post_text(room=room, sender=bob.user, text="hi")
    assert alice.get(f"/api/rooms/{room.pk}").json()["unread"] == 2  # notice + message
    response = alice.post(f"/api/rooms/{room.pk}/read", {"message_id": message.pk}, format="json")
    assert response.status_code == 204
    assert alice.get(f"/api/rooms/{room.pk}").json()["unread"] == 0
    assert_error(alice.post(f"/api/rooms/{room.pk}/read", {"message_id": "x"}, format="json"), 400)


def test_posting_is_rate_limited_per_user(auth_client, group_room, monkeypatch):
    from chat.throttles import ChatMessageThrottle

    monkeypatch.setattr(ChatMessageThrottle, "THROTTLE_RATES", {"chat": "3/min"})
    client = auth_client()
    room = group_room(client.user)
    statuses = [
        client.post(f"/api/rooms/{room.pk}/messages", {"text": f"{i}"}, format="json").status_code
        for i in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    limited = client.post(f"/api/rooms/{room.pk}/messages", {"text": "x"}, format="json")
    assert_error(limited, 429, code="rate_limited")
    assert client.get(f"/api/rooms/{room.pk}/messages").status_code == 200  # reading is free
    assert Message.objects.filter(kind="text").count() == 3


def test_schema_documents_every_room_endpoint_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_schema_lists_room_paths(client):
    text = client.get("/api/schema/").content.decode()
    for path in (
        "/api/rooms:",
        "/api/rooms/{room_id}:",
        "/api/rooms/{room_id}/members:",
        "/api/rooms/{room_id}/messages:",
    ):
        assert path in text


@pytest.mark.parametrize(
    "path",
    ["/api/rooms/abc", "/api/rooms/1.5/messages", "/api/rooms/-1/members", "/api/rooms/x/read"],
)
def test_non_integer_room_ids_in_the_path_are_404_in_error_shape(auth_client, path):
    client = auth_client()
    assert_error(client.get(path), 404, code="not_found")
    assert_error(client.post(path, {"text": "hi"}, format="json"), 404, code="not_found")
