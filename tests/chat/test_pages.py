import json

import pytest

from chat import services
from chat.models import Message, Room

pytestmark = pytest.mark.django_db


def initial_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="chat-initial" type="application/json">') + len(
        '<script id="chat-initial" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_room_list_shows_my_rooms_with_preview_and_unread(client, make_user, group_room):
    alice, bob = make_user(), make_user(display_name="鲍勃")
    room = group_room(alice, bob, name="年夜饭")
    group_room(make_user(), name="别人的群")
    services.message_post_text(room=room, sender=bob, text="几点开饭？")
    client.force_login(alice)
    html = client.get("/chat/").content.decode()
    assert "年夜饭" in html and "别人的群" not in html
    assert "鲍勃: 几点开饭？" in html
    assert 'class="badge room-badge">2<' in html  # the invite notice and bob's message
    partial = client.get("/chat/rooms/partial/").content.decode()
    assert "鲍勃: 几点开饭？" in partial and "<html" not in partial


def test_room_page_embeds_the_first_page_decorated_for_the_viewer(
    client, make_user, group_room, message_decorator
):
    alice, bob = make_user(), make_user()
    room = group_room(alice, bob)
    services.message_create(room=room, sender=bob, kind="packet", packet_id=3, text="恭喜发财")

    @message_decorator
    def mark(messages, viewer):
        for message in messages:
            message["viewer"] = viewer.pk

    client.force_login(alice)
    response = client.get(f"/chat/rooms/{room.pk}/")
    assert response.status_code == 200
    data = initial_data(response)
    assert data["room"]["id"] == room.pk and data["me"]["id"] == alice.pk
    assert [m["kind"] for m in data["messages"]] == ["packet", "notice"]
    assert all(m["viewer"] == alice.pk for m in data["messages"])
    html = response.content.decode()
    assert 'data-action="packet"' in html and "红包" in html  # the "+" menu entry
    assert "js/chat.js" in html and "css/chat.css" in html


def test_room_pages_are_404_for_non_members(client, make_user, group_room):
    room = group_room()
    client.force_login(make_user())
    assert client.get(f"/chat/rooms/{room.pk}/").status_code == 404
    assert client.get(f"/chat/rooms/{room.pk}/members/").status_code == 404
    assert client.get(f"/chat/rooms/{10**30}/").status_code == 404


def test_create_group_page_creates_room_from_contacts_and_usernames(client, make_user, group_room):
    alice, bob, carol = make_user(), make_user(), make_user("carol-page")
    group_room(alice, bob)  # bob becomes a contact
    client.force_login(alice)
    page = client.get("/chat/new/group/").content.decode()
    assert bob.name in page
    response = client.post(
        "/chat/new/group/", {"name": "新群", "members": [bob.pk], "usernames": "CAROL-page"}
    )
    room = Room.objects.get(name="新群")
    assert response.status_code == 302 and response["Location"] == f"/chat/rooms/{room.pk}/"
    # bob (a contact) joins; carol, a stranger found by username, is invited.
    assert set(room.members.values_list("pk", flat=True)) == {alice.pk, bob.pk}
    assert room.invitations.get().invitee == carol


def test_create_group_page_shows_errors_and_creates_nothing(client, make_user):
    client.force_login(make_user())
    response = client.post("/chat/new/group/", {"name": "新群", "usernames": "nobody-here"})
    assert response.status_code == 200 and "nobody-here" in response.content.decode()
    response = client.post("/chat/new/group/", {"name": "   "})
    assert response.status_code == 200 and "field-error" in response.content.decode()
    assert not Room.objects.exists()


def test_direct_page_opens_the_same_room_each_time(client, make_user):
    alice, bob = make_user(), make_user("bob-direct")
    client.force_login(alice)
    first = client.post("/chat/new/direct/", {"username": "bob-direct"})
    second = client.post("/chat/new/direct/", {"user_id": bob.pk})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Room.objects.filter(kind="direct").count() == 1


@pytest.mark.parametrize("username", ["no-such-user", "self"])
def test_direct_page_refuses_unknown_users_and_yourself(client, make_user, username):
    me = make_user("self")
    client.force_login(me)
    response = client.post("/chat/new/direct/", {"username": username})
    assert response.status_code == 200 and "field-error" in response.content.decode()
    assert not Room.objects.exists()


def test_members_page_adds_people_to_groups_but_not_direct_rooms(client, make_user, group_room):
    alice, bob, carol = make_user(), make_user(), make_user("carol-add")
    room = group_room(alice, bob)
    client.force_login(alice)
    page = client.get(f"/chat/rooms/{room.pk}/members/").content.decode()
    assert bob.name in page and "添加成员" in page
    group_room(alice, carol, name="老群")  # carol is an acquaintance: she joins at once
    response = client.post(f"/chat/rooms/{room.pk}/members/", {"usernames": "carol-add"})
    assert response.status_code == 302
    assert room.memberships.filter(user=carol).exists()

    direct, _ = services.room_get_or_create_direct(user=alice, other_user_id=bob.pk)
    page = client.get(f"/chat/rooms/{direct.pk}/members/").content.decode()
    assert "添加成员" not in page
    client.post(f"/chat/rooms/{direct.pk}/members/", {"usernames": "carol-add"})
    assert direct.memberships.count() == 2


def test_seed_creates_demo_rooms_once(db):
    from django.core.management import call_command

    call_command("seed_demo")
    group = Room.objects.get(kind="group", name="新年快乐群")
    assert set(group.members.values_list("username", flat=True)) == {
        "alice",
        "bob",
        "carol",
        "dave",
    }
    direct = Room.objects.get(kind="direct")
    assert set(direct.members.values_list("username", flat=True)) == {"alice", "bob"}
    counts = (Room.objects.count(), Message.objects.count())
    assert Message.objects.filter(room=group, kind="text").count() >= 2
    assert Message.objects.filter(room=direct).count() >= 2
    call_command("seed_demo")
    assert (Room.objects.count(), Message.objects.count()) == counts
