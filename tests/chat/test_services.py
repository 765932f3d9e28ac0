import pytest
from django.db import transaction

from chat import selectors, services
from chat.models import Membership, Message, Room
from redpacket.kernel.errors import InvalidInput, NotFound

pytestmark = pytest.mark.django_db


def test_group_creator_is_owner_and_member_and_invite_notice_is_posted(make_user):
    alice, bob, carol = make_user(), make_user(), make_user()
    room = services.room_create_group(
        creator=alice, name="  周末爬山  ", member_ids=[bob.pk, carol.pk, bob.pk, alice.pk]
    )
    assert room.name == "周末爬山" and room.owner == alice and room.kind == "group"
    assert set(room.members.values_list("pk", flat=True)) == {alice.pk, bob.pk, carol.pk}
    notice = Message.objects.get(room=room)
    assert notice.kind == "notice" and notice.sender is None
    assert notice.text == f"{alice.name}邀请{bob.name}、{carol.name}加入了群聊"


@pytest.mark.parametrize("name", ["", "   ", "群" * 31, None])
def test_group_name_must_be_1_to_30_characters(make_user, name):
    with pytest.raises(InvalidInput) as caught:
        services.room_create_group(creator=make_user(), name=name, member_ids=[])
    assert "name" in caught.value.fields
    assert not Room.objects.exists()


def test_group_with_unknown_or_inactive_users_is_refused_and_nothing_created(make_user):
    gone = make_user(is_active=False)
    with pytest.raises(InvalidInput) as caught:
        services.room_create_group(creator=make_user(), name="群", member_ids=[gone.pk, 987654])
    assert caught.value.code == "unknown_user"
    assert str(gone.pk) in str(caught.value.fields["member_ids"])
    assert "987654" in str(caught.value.fields["member_ids"])
    assert not Room.objects.exists() and not Membership.objects.exists()


def test_direct_room_is_one_per_pair_whoever_starts_it(make_user):
    alice, bob = make_user(), make_user()
    room, created = services.room_get_or_create_direct(user=alice, other_user_id=bob.pk)
    again, created_again = services.room_get_or_create_direct(user=bob, other_user_id=alice.pk)
    assert created and not created_again
    assert again.pk == room.pk and room.direct_key == f"{alice.pk}:{bob.pk}"
    assert room.memberships.count() == 2


def test_direct_room_with_yourself_or_unknown_user_is_refused(make_user):
    alice = make_user()
    with pytest.raises(InvalidInput) as myself:
        services.room_get_or_create_direct(user=alice, other_user_id=alice.pk)
    with pytest.raises(InvalidInput) as unknown:
        services.room_get_or_create_direct(user=alice, other_user_id=424242)
    assert myself.value.code == "direct_self" and unknown.value.code == "unknown_user"
    assert not Room.objects.exists()


def test_direct_room_race_loser_gets_the_winners_room(make_user, monkeypatch):
    alice, bob = make_user(), make_user()
    winner, _ = services.room_get_or_create_direct(user=bob, other_user_id=alice.pk)
    # The loser looked before the winner's insert was visible: its own insert then hits
    # the unique direct_key and it must return the winner's room.
    real_filter = Room.objects.filter
    monkeypatch.setattr(
        Room.objects,
        "filter",
        lambda *a, **kw: real_filter(pk=-1) if "direct_key" in kw else real_filter(*a, **kw),
    )
    with transaction.atomic():
        room, created = services.room_get_or_create_direct(user=alice, other_user_id=bob.pk)
    assert room.pk == winner.pk and created is False
    assert Room.objects.count() == 1


def test_add_members_skips_existing_and_refuses_direct_rooms(make_user, group_room):
    alice, bob, carol = make_user(), make_user(), make_user()
    room = group_room(alice, bob)
    services.room_add_members(room=room, actor=bob, user_ids=[carol.pk, alice.pk])
    assert room.memberships.count() == 3
    services.room_add_members(room=room, actor=alice, user_ids=[carol.pk])
    assert room.memberships.count() == 3
    assert Message.objects.filter(room=room, kind="notice").count() == 2

    direct, _ = services.room_get_or_create_direct(user=alice, other_user_id=bob.pk)
    with pytest.raises(InvalidInput) as caught:
        services.room_add_members(room=direct, actor=alice, user_ids=[carol.pk])
    assert caught.value.code == "direct_room"
    assert direct.memberships.count() == 2


def test_only_members_add_members(make_user, group_room):
    outsider, carol = make_user(), make_user()
    room = group_room()
    with pytest.raises(NotFound):
        services.room_add_members(room=room, actor=outsider, user_ids=[carol.pk])


def test_group_member_limit_holds(make_user, group_room, settings):
    settings.CHAT_GROUP_MAX_MEMBERS = 3
    a, b, c, d = (make_user() for _ in range(4))
    room = group_room(a, b)
    with pytest.raises(InvalidInput) as caught:
        services.room_add_members(room=room, actor=a, user_ids=[c.pk, d.pk])
    assert caught.value.code == "too_many_members"
    assert room.memberships.count() == 2


def test_post_text_trims_and_validates(make_user, group_room):
    alice = make_user()
    room = group_room(alice)
    message = services.message_post_text(room=room, sender=alice, text="  你好\n世界  ")
    assert message.text == "你好\n世界" and message.kind == "text"
    for bad, code in [("", "empty_text"), (" \n\t", "empty_text"), ("x" * 2001, "text_too_long")]:
        with pytest.raises(InvalidInput) as caught:
            services.message_post_text(room=room, sender=alice, text=bad)
        assert caught.value.code == code and "text" in caught.value.fields
    services.message_post_text(room=room, sender=alice, text="字" * 2000)


def test_non_member_cannot_post(make_user, group_room):
    room = group_room()
    with pytest.raises(NotFound):
        services.message_post_text(room=room, sender=make_user(), text="hi")


def test_message_create_publishes_only_after_commit(
    make_user, group_room, monkeypatch, django_capture_on_commit_callbacks
):
    from redpacket.kernel import events

    sent = []
    monkeypatch.setattr(events, "_send_now", lambda group, event: sent.append((group, event)))
    alice, bob = make_user(), make_user()
    room = group_room(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_create(room=room, sender=alice, kind="text", text="hi")
        assert sent == []
    assert sent == [(f"room.{room.pk}", {"type": "message.new", "message": sent[0][1]["message"]})]
    assert sent[0][1]["message"]["id"] == message.pk
    assert sent[0][1]["message"]["room_id"] == room.pk

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_create(
            room=room, sender=None, kind="notice", text="Bob领取了你的红包", recipient=alice
        )
    assert [group for group, _ in sent] == [f"user.{alice.pk}"]

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_create(room=room, sender=alice, kind="packet", packet_id=7, publish=False)
    assert sent == []


def test_message_create_rolled_back_publishes_nothing(
    make_user, group_room, monkeypatch, django_capture_on_commit_callbacks
):
    from redpacket.kernel import events

    sent = []
    monkeypatch.setattr(events, "_send_now", lambda group, event: sent.append(event))
    alice = make_user()
    room = group_room(alice)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.message_create(room=room, sender=alice, kind="text", text="never")
            raise RuntimeError("the caller's transaction fails later")
        services.message_create(room=room, sender=alice, kind="text", text="committed")
    assert [event["message"]["text"] for event in sent] == ["committed"]
    assert not Message.objects.filter(text="never").exists()


def test_packet_message_needs_a_packet_id(make_user, group_room):
    alice = make_user()
    with pytest.raises(InvalidInput):
        services.message_create(room=group_room(alice), sender=alice, kind="packet")


def test_cached_membership_needs_no_sql_when_warm(
    make_user, group_room, django_assert_num_queries, django_capture_on_commit_callbacks
):
    alice, bob, outsider = make_user(), make_user(), make_user()
    room = group_room(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):  # stored once committed
        selectors.room_member_ids(room.pk)
    with django_assert_num_queries(0):
        assert selectors.is_member(room_id=room.pk, user_id=alice.pk)
        assert selectors.is_member(room_id=room.pk, user_id=bob.pk)
        assert not selectors.is_member(room_id=room.pk, user_id=outsider.pk)
        assert selectors.room_member_ids(room.pk) == frozenset({alice.pk, bob.pk})


@pytest.mark.redis
def test_a_process_decodes_a_rooms_cached_members_again_only_when_they_change(
    make_user, group_room, django_capture_on_commit_callbacks
):
    alice, bob, carol = make_user(), make_user(), make_user()
    room = group_room(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        selectors.room_member_ids(room.pk)
    first = selectors.room_member_ids(room.pk)
    assert selectors.room_member_ids(room.pk) is first  # the same bytes: not decoded again
    with django_capture_on_commit_callbacks(execute=True):
        services.room_add_members(room=room, actor=alice, user_ids=[carol.pk])
    assert selectors.room_member_ids(room.pk) == frozenset({alice.pk, bob.pk, carol.pk})
    assert selectors.is_member(room_id=room.pk, user_id=carol.pk)


def test_members_read_in_a_rolled_back_transaction_are_never_cached(make_user, group_room):
    from django.core.cache import cache
    from django.db import transaction

    from chat.models import Membership

    alice, mallory = make_user(), make_user()
    room = group_room(alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        Membership.objects.create(room=room, user=mallory)
        assert mallory.pk in selectors.room_member_ids(room.pk)
        raise RuntimeError("rolled back")
    assert cache.get(selectors._members_cache_key(room.pk)) is None
    assert not selectors.is_member(room_id=room.pk, user_id=mallory.pk)


def test_cached_membership_follows_added_members(
    make_user, group_room, django_capture_on_commit_callbacks
):
    alice, carol = make_user(), make_user()
    room = group_room(alice)
    assert not selectors.is_member(room_id=room.pk, user_id=carol.pk)  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        services.room_add_members(room=room, actor=alice, user_ids=[carol.pk])
    assert selectors.is_member(room_id=room.pk, user_id=carol.pk)


def test_cached_membership_of_a_room_created_after_a_miss(
    make_user, group_room, django_capture_on_commit_callbacks
):
    alice = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        room = group_room(alice)
    for room_id in (room.pk, room.pk + 1):
        selectors.room_member_ids(room_id)  # the next room's id is now cached as empty
    with django_capture_on_commit_callbacks(execute=True):
        later = group_room(alice)
    assert later.pk == room.pk + 1
    assert selectors.is_member(room_id=later.pk, user_id=alice.pk)
    assert selectors.is_member(room_id=room.pk, user_id=alice.pk)


def test_a_stale_read_never_overwrites_a_fresher_cached_member_set(
    make_user, group_room, django_capture_on_commit_callbacks, monkeypatch
):
    alice, carol = make_user(), make_user()
    room = group_room(alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.room_add_members(room=room, actor=alice, user_ids=[carol.pk])
    # A reader that loaded the member set before the add committed stores it late.
    monkeypatch.setattr(selectors, "_load_member_ids", lambda room_id: frozenset({alice.pk}))
    from django.core.cache import cache

    cache.add(selectors._members_cache_key(room.pk), [alice.pk], 60)
    assert selectors.is_member(room_id=room.pk, user_id=carol.pk)


def test_rooms_for_user_shows_latest_message_and_unread_without_n_plus_1(
    make_user, group_room, django_assert_max_num_queries
):
    alice, bob = make_user(), make_user()
    rooms = [group_room(alice, bob, name=f"群{i}") for i in range(6)]
    for i, room in enumerate(rooms):
        services.message_post_text(room=room, sender=bob, text=f"bob {i}")
        services.message_post_text(room=room, sender=alice, text=f"alice {i}")
    with django_assert_max_num_queries(3):
        listed = list(selectors.rooms_for_user(user=alice))
        summary = [
            (
                r.name,
                r.unread,
                r.member_count,
                selectors.room_last_message(r).text,
                [u.pk for u in selectors.room_members(r)],
            )
            for r in listed
        ]
    assert [row[0] for row in summary] == [f"群{i}" for i in reversed(range(6))]
    # The invite notice has no sender, so it counts as unread along with bob's message.
    assert all(row[1] == 2 and row[2] == 2 for row in summary)
    assert summary[0][3] == "alice 5" and summary[0][4] == [alice.pk, bob.pk]


def test_unread_counts_only_others_messages_after_the_read_marker(make_user, group_room):
    alice, bob = make_user(), make_user()
    room = group_room(alice, bob)
    first = services.message_post_text(room=room, sender=bob, text="1")
    services.message_post_text(room=room, sender=bob, text="2")
    services.message_post_text(room=room, sender=alice, text="mine")
    services.room_mark_read(room=room, user=alice, message_id=first.pk)
    assert selectors.room_summary(user=alice, room_id=room.pk).unread == 1
    services.room_mark_read(room=room, user=alice, message_id=first.pk - 1)  # never backwards
    assert selectors.room_summary(user=alice, room_id=room.pk).unread == 1
    services.room_mark_read(room=room, user=alice, message_id=10**15)  # clamped to newest
    assert selectors.room_summary(user=alice, room_id=room.pk).unread == 0
    later = services.message_post_text(room=room, sender=bob, text="later")
    assert selectors.room_summary(user=alice, room_id=room.pk).unread == 1
    assert Membership.objects.get(room=room, user=alice).last_read_message_id < later.pk


def test_history_hides_notices_meant_for_someone_else(make_user, group_room):
    alice, bob = make_user(), make_user()
    room = group_room(alice, bob)
    services.message_create(
        room=room, sender=None, kind="notice", text="for alice", recipient=alice
    )
    services.message_post_text(room=room, sender=bob, text="for all")
    alice_sees = [m.text for m in selectors.message_history(room=room, user=alice)]
    bob_sees = [m.text for m in selectors.message_history(room=room, user=bob)]
    assert "for alice" in alice_sees and "for alice" not in bob_sees
    assert "for all" in bob_sees
    last = selectors.rooms_for_user(user=bob).get(pk=room.pk)
    assert selectors.room_last_message(last).text == "for all"


def test_room_for_member_hides_rooms_from_everyone_else(make_user, group_room):
    alice = make_user()
    room = group_room(alice)
    assert selectors.room_for_member(user=alice, room_id=room.pk) == room
    for user, room_id in [(make_user(), room.pk), (alice, 10**30), (alice, "x"), (alice, 0)]:
        with pytest.raises(NotFound):
            selectors.room_for_member(user=user, room_id=room_id)


def test_notices_create_stores_many_private_notices_in_one_insert(
    make_user, django_assert_num_queries
):
    from chat import notices as keys

    alice, bob = make_user(), make_user()
    room = services.room_create_group(creator=alice, name="群", member_ids=[bob.pk])
    with django_assert_num_queries(1):
        notices = services.notices_create(
            [
                services.Notice(
                    room_id=room.pk,
                    recipient_id=alice.pk,
                    notice_key=keys.PACKET_CLAIMED,
                    notice_params={"name": "鲍勃"},
                    packet_id=7,
                ),
                services.Notice(
                    room_id=room.pk,
                    recipient_id=alice.pk,
                    notice_key=keys.PACKET_FINISHED,
                    notice_params={},
                    packet_id=7,
                ),
            ]
        )
    assert [n.pk is not None for n in notices] == [True, True]
    stored = list(
        Message.objects.filter(pk__in=[n.pk for n in notices])
        .order_by("pk")
        .values_list("kind", "sender", "recipient", "text", "packet_id", "notice_key")
    )
    assert stored == [
        ("notice", None, alice.pk, "鲍勃领取了你的红包", 7, keys.PACKET_CLAIMED),
        ("notice", None, alice.pk, "你的红包已被领完", 7, keys.PACKET_FINISHED),
    ]
    with pytest.raises(InvalidInput):
        services.notices_create(
            [
                services.Notice(
                    room_id=room.pk, recipient_id=alice.pk, notice_key="nope", notice_params={}
                )
            ]
        )
