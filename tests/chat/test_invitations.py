"""Group adds and invitations (SPEC §7, finding 7 of the hardening review): people join a
group at once only when the one adding them is an acquaintance; a stranger gets an
invitation and joins only by accepting it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from chat import selectors, services
from chat.models import Invitation, Membership, Message

pytestmark = pytest.mark.django_db


def member_ids(room) -> set[int]:
    return set(Membership.objects.filter(room=room).values_list("user_id", flat=True))


def acquaint(a, b) -> None:
    """`a` and `b` share a group room (made by a third person who knows them both)."""
    services.room_create_group(creator=a, name="老朋友", member_ids=[b.pk])


def test_a_stranger_put_in_a_new_group_is_invited_not_added(auth_client, make_user):
    client = auth_client()
    friend, stranger = make_user(), make_user()
    acquaint(client.user, friend)
    response = client.post(
        "/api/rooms",
        {"kind": "group", "name": "聚会", "member_ids": [friend.pk, stranger.pk]},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert [m["id"] for m in body["members"]] == [client.user.pk, friend.pk]
    assert body["member_count"] == 2
    assert [u["id"] for u in body["invited"]] == [stranger.pk]
    room_id = body["id"]
    assert stranger.pk not in member_ids(room_id)
    assert Invitation.objects.filter(
        room_id=room_id, invitee=stranger, inviter=client.user, state="pending"
    ).exists()
    # The stranger cannot read the room before accepting.
    assert auth_client(stranger).get(f"/api/rooms/{room_id}").status_code == 404


def test_a_member_adding_a_stranger_invites_them(auth_client, make_user, group_room):
    client = auth_client()
    friend, stranger = make_user(), make_user()
    acquaint(client.user, friend)
    room = group_room(client.user)
    response = client.post(
        f"/api/rooms/{room.pk}/members", {"user_ids": [stranger.pk, friend.pk]}, format="json"
    )
    assert response.status_code == 200
    assert member_ids(room) == {client.user.pk, friend.pk}
    assert [u["id"] for u in response.json()["invited"]] == [stranger.pk]
    # Asking again leaves one pending invitation, still reported as invited.
    again = client.post(f"/api/rooms/{room.pk}/members", {"user_ids": [stranger.pk]}, format="json")
    assert [u["id"] for u in again.json()["invited"]] == [stranger.pk]
    assert Invitation.objects.filter(room=room, invitee=stranger).count() == 1


def test_an_invitee_added_directly_later_has_no_pending_invitation_left(
    auth_client, make_user, group_room
):
    client = auth_client()
    stranger, known_to_both = make_user(), make_user()
    room = group_room(client.user)
    client.post(f"/api/rooms/{room.pk}/members", {"user_ids": [stranger.pk]}, format="json")
    assert Invitation.objects.get(room=room, invitee=stranger).state == "pending"
    # Another member who knows the stranger adds them: they are in, the invitation closed.
    acquaint(known_to_both, stranger)
    services.room_add_members(room=room, actor=client.user, user_ids=[known_to_both.pk])
    services.group_add(room=room, actor=known_to_both, user_ids=[stranger.pk])
    assert stranger.pk in member_ids(room)
    invitation = Invitation.objects.get(room=room, invitee=stranger)
    assert invitation.state == "accepted" and invitation.responded_at is not None
    # Accepting it now is a no-op, not a second join.
    joined = Membership.objects.filter(room=room).count()
    services.invitation_accept(invitation_id=invitation.pk, user=stranger)
    assert Membership.objects.filter(room=room).count() == joined


def test_opening_a_direct_room_alone_does_not_make_an_acquaintance(make_user):
    alice, bob, carol = make_user(), make_user(), make_user()
    room, _ = services.room_get_or_create_direct(user=alice, other_user_id=bob.pk)
    services.message_post_text(room=room, sender=alice, text="你好")
    assert selectors.acquainted_ids(user=alice, ids=[bob.pk]) == set()
    services.message_post_text(room=room, sender=bob, text="你好呀")
    assert selectors.acquainted_ids(user=alice, ids=[bob.pk]) == {bob.pk}
    # Whoever opened the direct room reached out: carol opening one with alice counts.
    services.room_get_or_create_direct(user=carol, other_user_id=alice.pk)
    assert selectors.acquainted_ids(user=alice, ids=[carol.pk, bob.pk]) == {carol.pk, bob.pk}
    assert selectors.acquainted_ids(user=carol, ids=[alice.pk]) == set()


def test_accepting_joins_the_group_with_a_notice(auth_client, make_user, group_room):
    owner, stranger = auth_client(), auth_client()
    room = group_room(owner.user, name="春节")
    room, _ = services.group_add(room=room, actor=owner.user, user_ids=[stranger.user.pk])
    listed = stranger.get("/api/invitations").json()
    assert listed["next"] is None and len(listed["results"]) == 1
    invitation = listed["results"][0]
    assert invitation["room"] == {"id": room.pk, "name": "春节", "member_count": 1}
    assert invitation["inviter"]["id"] == owner.user.pk
    assert set(invitation) == {"id", "room", "inviter", "created_at"}
    accepted = stranger.post(f"/api/invitations/{invitation['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["id"] == room.pk and accepted.json()["member_count"] == 2
    assert member_ids(room) == {owner.user.pk, stranger.user.pk}
    assert selectors.room_member_ids(room.pk) == {owner.user.pk, stranger.user.pk}
    notice = Message.objects.filter(room=room, kind="notice").latest("id")
    assert notice.text == f"{owner.user.name}邀请{stranger.user.name}加入了群聊"
    # Accepting again changes nothing; the list is empty; declining now is too late.
    assert stranger.post(f"/api/invitations/{invitation['id']}/accept").status_code == 200
    assert Membership.objects.filter(room=room).count() == 2
    assert stranger.get("/api/invitations").json()["results"] == []
    late = stranger.post(f"/api/invitations/{invitation['id']}/decline")
    assert late.status_code == 409 and late.json()["code"] == "invitation_closed"


def test_declining_leaves_the_group_as_it_was(auth_client, make_user, group_room):
    owner, stranger = auth_client(), auth_client()
    room = group_room(owner.user)
    services.group_add(room=room, actor=owner.user, user_ids=[stranger.user.pk])
    invitation = Invitation.objects.get(room=room, invitee=stranger.user)
    assert stranger.post(f"/api/invitations/{invitation.pk}/decline").status_code == 204
    assert stranger.post(f"/api/invitations/{invitation.pk}/decline").status_code == 204
    refused = stranger.post(f"/api/invitations/{invitation.pk}/accept")
    assert refused.status_code == 409 and refused.json()["code"] == "invitation_closed"
    assert member_ids(room) == {owner.user.pk}
    # A declined invitation does not block a new one later.
    services.group_add(room=room, actor=owner.user, user_ids=[stranger.user.pk])
    assert Invitation.objects.filter(room=room, invitee=stranger.user, state="pending").count() == 1


def test_someone_elses_invitation_is_404_like_a_missing_one(auth_client, group_room):
    owner, stranger, snoop = auth_client(), auth_client(), auth_client()
    room = group_room(owner.user)
    services.group_add(room=room, actor=owner.user, user_ids=[stranger.user.pk])
    invitation = Invitation.objects.get(room=room, invitee=stranger.user)
    for action in ("accept", "decline"):
        theirs = snoop.post(f"/api/invitations/{invitation.pk}/{action}")
        missing = snoop.post(f"/api/invitations/{invitation.pk + 1000}/{action}")
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json() == missing.json()
    assert snoop.get("/api/invitations").json()["results"] == []
    invitation.refresh_from_db()
    assert invitation.state == "pending" and member_ids(room) == {owner.user.pk}


@override_settings(CHAT_GROUP_MAX_MEMBERS=3)
def test_pending_invitations_count_towards_the_member_limit(make_user, group_room):
    owner = make_user()
    strangers = [make_user() for _ in range(3)]
    room = group_room(owner)
    room, invited = services.group_add(
        room=room, actor=owner, user_ids=[s.pk for s in strangers[:2]]
    )
    assert len(invited) == 2
    with pytest.raises(services.InvalidInput) as refused:
        services.group_add(room=room, actor=owner, user_ids=[strangers[2].pk])
    assert refused.value.code == "too_many_members"
    # Members added by other paths can still fill the group: then accepting is refused.
    acquainted = make_user()
    services.room_add_members(room=room, actor=owner, user_ids=[acquainted.pk])
    first = Invitation.objects.get(room=room, invitee=strangers[0])
    services.invitation_accept(invitation_id=first.pk, user=strangers[0])
    second = Invitation.objects.get(room=room, invitee=strangers[1])
    with pytest.raises(services.InvalidInput) as full:
        services.invitation_accept(invitation_id=second.pk, user=strangers[1])
    assert full.value.code == "too_many_members"
    second.refresh_from_db()
    assert second.state == "pending" and len(member_ids(room)) == 3


def test_pages_invite_strangers_and_list_invitations(client, make_user):
    owner, stranger = make_user(), make_user()
    client.force_login(owner)
    response = client.post(
        "/chat/new/group/", {"name": "页面群", "usernames": stranger.username}, follow=True
    )
    assert response.status_code == 200
    assert "发送入群邀请" in response.content.decode()
    invitation = Invitation.objects.get(invitee=stranger)
    assert member_ids(invitation.room) == {owner.pk}
    client.force_login(stranger)
    listing = client.get("/chat/").content.decode()
    assert "页面群" in listing and f"/chat/invitations/{invitation.pk}/accept/" in listing
    assert client.get(f"/chat/invitations/{invitation.pk}/accept/").status_code == 405
    joined = client.post(f"/chat/invitations/{invitation.pk}/accept/")
    assert joined.status_code == 302 and joined.url == f"/chat/rooms/{invitation.room_id}/"
    assert member_ids(invitation.room) == {owner.pk, stranger.pk}
    assert "页面群" not in client.get("/chat/").content.decode().split('id="room-list"')[0]
