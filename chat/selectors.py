"""Every read of rooms and messages that pages, the API and other apps share.

Visibility rules live here and nowhere else:
- a room exists for you only if you are a member (everyone else gets NotFound, so a
  room's existence is never revealed);
- a message with a `recipient` is seen only by that recipient.

`room_member_ids` / `is_member` answer the red packet hot path's "is this user in the
room?" from the cache, with no SQL when warm.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias, TypedDict, cast

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django_redis.client import DefaultClient

from chat.data import message_text
from chat.models import Invitation, Membership, Message, Room, direct_key_for
from redpacket.kernel.errors import NotFound
from redpacket.kernel.numbers import parse_int
from redpacket.kernel.replica import history_db

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from redpacket.accounts.models import User


class RoomListAnnotations(TypedDict):
    """What `rooms_for_user` puts on each room (annotations and prefetches)."""

    my_last_read: int | None
    last_message_at: datetime | None
    unread: int
    member_count: int
    active_at: datetime
    member_list: list[Membership]
    latest_messages: list[Message]


if TYPE_CHECKING:
    # A room as `rooms_for_user` and `room_summary` give it.
    ListedRoom: TypeAlias = WithAnnotations[Room, RoomListAnnotations]

HISTORY_PAGE_SIZE = 30
HISTORY_MAX_PAGE_SIZE = 100
MEMBERS_CACHE_TTL = 600  # seconds; services refresh the entry on every membership change
_MAX_ID = 2**63 - 1  # bigint: larger ids cannot exist and must not reach the database


def valid_id(value: object) -> int | None:
    """`value` as a positive database id, or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        number = parse_int(value)
        return number if number is not None and 0 < number <= _MAX_ID else None
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 < number <= _MAX_ID else None


# --- Cached membership (the red packet hot path) --------------------------------------


def _members_cache_key(room_id: int) -> str:
    return f"chat:room:{int(room_id)}:members"


def _load_member_ids(room_id: int) -> frozenset[int]:
    return frozenset(Membership.objects.filter(room_id=room_id).values_list("user_id", flat=True))


def room_member_ids(room_id: int) -> frozenset[int]:
    """The ids of a room's members, from the cache (no SQL when warm).

    An unknown room has no members. On a miss the set is loaded and stored with
    `cache.add`, never `set`: if a membership change committed meanwhile, the service's
    after-commit refresh has already stored the newer set and this (possibly older)
    read must not overwrite it.
    """
    rid = valid_id(room_id)
    if rid is None:
        return frozenset()
    key = _members_cache_key(rid)
    cached = _cached_member_ids(rid, key)
    if cached is not None:
        return cached
    member_ids = _load_member_ids(rid)
    # Stored only once what was read is surely committed: a set read inside a
    # transaction that later rolls back must never outlive it in the cache.
    transaction.on_commit(lambda: cache.add(key, sorted(member_ids), MEMBERS_CACHE_TTL))
    return member_ids


# room → (the cached list as stored, the set it decodes to). The list is read from Redis
# on every check as before; it is decoded again only when the stored bytes differ. A
# 2,000-member room's list is ~10 kB, and unpickling it into a set costs ~0.3 ms, on
# every open and grab check of the room's packets; comparing the bytes costs ~1 µs.
_DECODED_MEMBERS: dict[int, tuple[bytes, frozenset[int]]] = {}
_DECODED_MEMBERS_MAX = 128


def _cached_member_ids(room_id: int, key: str) -> frozenset[int] | None:
    client = getattr(cache, "client", None)
    if not isinstance(client, DefaultClient):  # the local-memory cache (embedded default)
        cached = cache.get(key)
        return None if cached is None else frozenset(cached)
    raw = client.get_client(write=False).get(client.make_key(key))
    if raw is None:
        return None
    known = _DECODED_MEMBERS.get(room_id)
    if known is not None and known[0] == raw:
        return known[1]
    members = frozenset(client.decode(raw))
    if len(_DECODED_MEMBERS) >= _DECODED_MEMBERS_MAX:
        _DECODED_MEMBERS.clear()
    _DECODED_MEMBERS[room_id] = (raw, members)
    return members


def room_members_cache_refresh(room_id: int) -> None:
    """Store a room's current member set in the cache (called after a change commits)."""
    cache.set(_members_cache_key(room_id), sorted(_load_member_ids(room_id)), MEMBERS_CACHE_TTL)


def is_member(*, room_id: int, user_id: int) -> bool:
    """Whether the user is in the room, from the cache (no SQL when warm)."""
    uid = valid_id(user_id)
    return uid is not None and uid in room_member_ids(room_id)


# --- Rooms ---------------------------------------------------------------------------


def _visible_to(user: User) -> Q:
    return Q(recipient__isnull=True) | Q(recipient=user)


def rooms_for_user(*, user: User) -> QuerySet[ListedRoom]:
    """The user's rooms, most recently active first, ready to show in a list.

    Each room carries `unread` (messages from others after the member's read marker),
    `member_count`, `member_list` (memberships with users, in joining order) and
    `latest_messages` (the newest visible message, or empty). A page of rooms costs a
    fixed number of queries, whatever its size.
    """
    visible = _visible_to(user)
    room_messages = Message.objects.filter(visible, room=OuterRef("pk")).order_by("-id")
    unread = (
        Message.objects.filter(visible, room=OuterRef("pk"), id__gt=OuterRef("my_last_read"))
        .exclude(sender=user)
        .order_by()
        .values("room")
        .annotate(n=Count("pk"))
        .values("n")
    )
    member_count = (
        Membership.objects.filter(room=OuterRef("pk"))
        .order_by()
        .values("room")
        .annotate(n=Count("pk"))
        .values("n")
    )
    latest_ids = (
        Room.objects.filter(memberships__user=user)
        .annotate(latest_id=Subquery(room_messages.values("id")[:1]))
        .values("latest_id")
    )
    return (
        Room.objects.filter(memberships__user=user)
        .annotate(
            my_last_read=F("memberships__last_read_message_id"),
            last_message_at=Subquery(room_messages.values("created_at")[:1]),
            unread=Coalesce(Subquery(unread), 0),
            member_count=Coalesce(Subquery(member_count), 0),
        )
        .annotate(active_at=Coalesce("last_message_at", "created_at"))
        .order_by("-active_at", "-pk")
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("user").order_by("joined_at", "pk"),
                to_attr="member_list",
            ),
            # The newest visible message of each room: one index seek per room on
            # (room, -id), then one fetch by id (a window over whole rooms would read
            # every message of every listed room).
            Prefetch(
                "messages",
                queryset=Message.objects.filter(id__in=latest_ids).select_related("sender"),
                to_attr="latest_messages",
            ),
        )
    )


def room_for_member(*, user: User, room_id: object) -> Room:
    """The room if `user` is a member; NotFound otherwise (also for rooms that don't exist)."""
    rid = valid_id(room_id)
    if rid is None or user is None or not user.is_authenticated:
        raise NotFound()
    room = Room.objects.filter(pk=rid, memberships__user=user).first()
    if room is None:
        raise NotFound()
    return room


def room_summary(*, user: User, room_id: object) -> ListedRoom:
    """One room as `rooms_for_user` shows it (members, unread, last message); NotFound
    for non-members."""
    rid = valid_id(room_id)
    if rid is None or user is None or not user.is_authenticated:
        raise NotFound()
    room = rooms_for_user(user=user).filter(pk=rid).first()
    if room is None:
        raise NotFound()
    return room


def room_members(room: Room) -> list[User]:
    """The room's members in joining order (uses `member_list` when prefetched)."""
    memberships = getattr(room, "member_list", None)
    if memberships is None:
        memberships = list(
            Membership.objects.filter(room=room).select_related("user").order_by("joined_at", "pk")
        )
    return [membership.user for membership in memberships]


def room_other_member(room: Room, viewer: User) -> User | None:
    """In a direct room, the person the viewer talks to."""
    if not room.is_direct:
        return None
    return next((m for m in room_members(room) if m.pk != viewer.pk), None)


def room_title(room: Room, viewer: User) -> str:
    """What the viewer calls the room: a group's name, or the other person's name."""
    other = room_other_member(room, viewer)
    return other.name if other is not None else room.name


def room_last_message(room: Room) -> Message | None:
    latest = getattr(room, "latest_messages", None)
    if latest is None:
        return None
    return latest[0] if latest else None


def acquainted_ids(*, user: User, ids: Iterable[int]) -> set[int]:
    """Which of `ids` the user may add to a group directly; the rest get an invitation.

    An acquaintance shares a group room with the user, or has reached out to them in
    their direct room (opened it, or written there). A direct room the user opened alone
    does not count: anyone can open one with anyone, so it would make every stranger an
    acquaintance one request later.
    """
    wanted = {int(i) for i in ids if int(i) != user.pk}
    if not wanted:
        return set()
    my_groups = Membership.objects.filter(user=user, room__kind=Room.Kind.GROUP).values("room_id")
    known = set(
        Membership.objects.filter(room_id__in=my_groups, user_id__in=wanted).values_list(
            "user_id", flat=True
        )
    )
    direct_keys = [direct_key_for(user.pk, other) for other in wanted - known]
    if direct_keys:
        rooms = Room.objects.filter(direct_key__in=direct_keys)
        known.update(rooms.filter(owner_id__in=wanted).values_list("owner_id", flat=True))
        known.update(
            Message.objects.filter(room__in=rooms, sender_id__in=wanted).values_list(
                "sender_id", flat=True
            )
        )
    return known


def pending_invitations(*, user: User) -> QuerySet[Invitation]:
    """The user's invitations still waiting for an answer, newest first."""
    return (
        Invitation.objects.filter(invitee=user, state=Invitation.State.PENDING)
        .select_related("room", "inviter")
        .annotate(member_count=Count("room__memberships", distinct=True))
        .order_by("-created_at", "-id")
    )


def contacts_for_user(*, user: User) -> QuerySet[User]:
    """People the user shares a room with: the people a new group is picked from."""
    from redpacket.accounts.models import User as UserModel

    room_ids = Membership.objects.filter(user=user).values("room_id")
    return (
        UserModel.objects.filter(is_active=True, chat_memberships__room_id__in=room_ids)
        .exclude(pk=user.pk)
        .distinct()
        .order_by("display_name", "username")
    )


# --- Messages ------------------------------------------------------------------------


def message_history(
    *,
    room: Room,
    user: User,
    before: int | None = None,
    after: int | None = None,
    limit: int = HISTORY_PAGE_SIZE,
) -> list[Message]:
    """A page of the room's messages visible to `user`, newest first.

    `before` / `after` are message ids (exclusive bounds): `before` pages back through
    history, `after` fetches what arrived since the newest message a client has (a
    reconnecting socket's catch-up). Notices for another recipient are never included.
    """
    # Older messages (paging back) may come from the replica; the newest page and the
    # catch-up (`after`) always from the primary, so no fresh message is ever missed.
    db = history_db(user.pk) if before is not None else DEFAULT_DB_ALIAS
    messages = (
        Message.objects.using(db).filter(_visible_to(user), room=room).select_related("sender")
    )
    if before is not None:
        messages = messages.filter(id__lt=before)
    if after is not None:
        messages = messages.filter(id__gt=after)
    limit = max(1, min(int(limit), HISTORY_MAX_PAGE_SIZE + 1))
    return list(messages.order_by("-id")[:limit])


def message_history_page(
    *,
    room: Room,
    user: User,
    before: int | None = None,
    after: int | None = None,
    limit: int = HISTORY_PAGE_SIZE,
) -> tuple[list[Message], bool]:
    """`message_history` plus whether older messages (within the bounds) remain."""
    limit = max(1, min(int(limit), HISTORY_MAX_PAGE_SIZE))
    messages = message_history(room=room, user=user, before=before, after=after, limit=limit + 1)
    return messages[:limit], len(messages) > limit


def room_preview(room: Room, viewer: User) -> str:
    """The one-line preview of a room's newest message in the room list."""
    message = room_last_message(room)
    if message is None:
        return ""
    if message.kind == Message.Kind.PACKET:
        text = gettext("[微信红包]") + (message.text or "")
    else:
        text = message_text(message)
    if room.kind == Room.Kind.GROUP and message.sender_id and message.sender_id != viewer.pk:
        sender = cast("User", message.sender)  # sender_id is set: the message has a sender
        return f"{sender.name}: {text}"
    return text


def users_by_username(usernames: list[str]) -> tuple[list[User], list[str]]:
    """Active users with these usernames (case-insensitive), and the names not found."""
    from redpacket.accounts.models import User as UserModel

    wanted = {name.lower(): name for name in usernames}
    if not wanted:
        return [], []
    query = Q()
    for name in wanted:
        query |= Q(username__iexact=name)
    found = {
        user.username.lower(): user for user in UserModel.objects.filter(query, is_active=True)
    }
    return (
        [found[key] for key in wanted if key in found],
        [name for key, name in wanted.items() if key not in found],
    )
