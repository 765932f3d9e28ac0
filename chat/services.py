"""Every write of the chat app: rooms, memberships, messages, read markers.

Each service is one transaction. Events go out only after commit (`chat.events`), and
the cached member set of a room (`selectors.room_member_ids`) is refreshed after every
membership change commits. Membership only grows: nobody leaves or is removed yet.

The red packet app calls `message_create(..., publish=False)` inside its own
transaction and publishes `packet.new` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from chat import events, notices, selectors
from chat.models import (
    MESSAGE_MAX_LENGTH,
    ROOM_NAME_MAX_LENGTH,
    Invitation,
    Membership,
    Message,
    Room,
)
from chat.models import direct_key_for as _direct_key_for
from redpacket.kernel.errors import DomainError, InvalidInput, NotFound

if TYPE_CHECKING:
    from django.utils.functional import Promise

    from redpacket.accounts.models import User


def _max_members() -> int:
    return int(getattr(settings, "CHAT_GROUP_MAX_MEMBERS", 500))


def _invalid(field: str, message: str | Promise, *, code: str = "invalid") -> InvalidInput:
    return InvalidInput(message, code=code, fields={field: message})


def _clean_ids(values: Iterable[object], *, field: str) -> list[int]:
    """Distinct ids in the order given; a value that is not an id is a 400 on `field`."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise _invalid(field, _("请提供用户 id 列表"))
    ids: list[int] = []
    for value in values:
        user_id = selectors.valid_id(value)
        if user_id is None:
            raise _invalid(field, _("无效的用户 id"))
        if user_id not in ids:
            ids.append(user_id)
    return ids


def _active_users(ids: list[int], *, field: str) -> list[User]:
    """The users with these ids in the given order; 400 naming the unknown ones."""
    from redpacket.accounts.models import User

    found = {user.pk: user for user in User.objects.filter(pk__in=ids, is_active=True)}
    missing = [str(user_id) for user_id in ids if user_id not in found]
    if missing:
        message = gettext("用户不存在：%(ids)s") % {"ids": ", ".join(missing)}
        raise _invalid(field, message, code="unknown_user")
    return [found[user_id] for user_id in ids]


def _refresh_members_on_commit(room_id: int) -> None:
    transaction.on_commit(lambda: selectors.room_members_cache_refresh(room_id), robust=True)


def _post_invite_notice(*, room: Room, actor: User, invited: list[User]) -> None:
    names = [user.name for user in invited[: notices.NOTICE_NAMES]]
    message_create(
        room=room,
        sender=None,
        kind=Message.Kind.NOTICE,
        notice_key=notices.MEMBERS_INVITED,
        notice_params={"actor": actor.name, "names": names, "count": len(invited)},
    )


def room_create_group(*, creator: User, name: str, member_ids: Iterable[int]) -> Room:
    """Create a group room; the creator is its owner and first member.

    `member_ids` may repeat or include the creator (both ignored); every id must be an
    active user, else 400 naming them. The name is 1–30 characters after trimming.
    Posts an invitation notice when others were added.
    """
    name = (name or "").strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= ROOM_NAME_MAX_LENGTH:
        raise _invalid("name", _("群名称需为1到30个字"))
    ids = [
        user_id for user_id in _clean_ids(member_ids, field="member_ids") if user_id != creator.pk
    ]
    if len(ids) + 1 > _max_members():
        raise _invalid(
            "member_ids",
            _("群成员不能超过%(n)d人") % {"n": _max_members()},
            code="too_many_members",
        )
    invited = _active_users(ids, field="member_ids")
    with transaction.atomic():
        room = Room.objects.create(kind=Room.Kind.GROUP, name=name, owner=creator)
        Membership.objects.bulk_create(
            [Membership(room=room, user=creator), *(Membership(room=room, user=u) for u in invited)]
        )
        _refresh_members_on_commit(room.pk)
        if invited:
            _post_invite_notice(room=room, actor=creator, invited=invited)
    return room


def room_get_or_create_direct(*, user: User, other_user_id: int | str) -> tuple[Room, bool]:
    """The one direct room of `user` and the other user, created on first use.

    Returns (room, created). Refuses a chat with yourself and unknown users (400 on
    `user_id`). Two racing first requests end with the same room: the unique
    `direct_key` lets exactly one insert win and the other reads the winner's room.
    """
    other_id = selectors.valid_id(other_user_id)
    if other_id is None:
        raise _invalid("user_id", _("无效的用户 id"))
    if other_id == user.pk:
        raise _invalid("user_id", _("不能和自己发起单聊"), code="direct_self")
    other = _active_users([other_id], field="user_id")[0]
    key = _direct_key_for(user.pk, other.pk)
    existing = Room.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            room = Room.objects.create(kind=Room.Kind.DIRECT, owner=user, direct_key=key)
            Membership.objects.bulk_create(
                [Membership(room=room, user=user), Membership(room=room, user=other)]
            )
            _refresh_members_on_commit(room.pk)
    except IntegrityError:
        return Room.objects.get(direct_key=key), False
    return room, True


def _locked_group(room: Room, actor: User) -> Room:
    """The group under its row lock, with `actor` a member: 404 otherwise, and 400
    `direct_room` for a direct room. The lock serializes every membership change of a
    room, so member limits and "one pending invitation" hold under concurrency."""
    locked = Room.objects.select_for_update().filter(pk=room.pk).first()
    if locked is None or not Membership.objects.filter(room=locked, user=actor).exists():
        raise NotFound()
    if locked.is_direct:
        raise InvalidInput(_("单聊不能添加成员，请发起群聊"), code="direct_room")
    return locked


def _too_many(field: str) -> InvalidInput:
    return _invalid(
        field, _("群成员不能超过%(n)d人") % {"n": _max_members()}, code="too_many_members"
    )


def _member_ids(locked: Room) -> set[int]:
    return set(Membership.objects.filter(room=locked).values_list("user_id", flat=True))


def _join(
    locked: Room, *, actor: User, users: list[User], field: str, present: set[int] | None = None
) -> list[User]:
    """Make `users` members of the locked group (those already in it are skipped) and
    post the "X邀请Y加入了群聊" notice. Returns who joined. `present` (the member ids, if
    the caller has read them) is updated with them. A pending invitation of someone who
    joins is closed as accepted: they are in, and it no longer holds a place."""
    present = _member_ids(locked) if present is None else present
    joining = [user for user in users if user.pk not in present]
    if len(present) + len(joining) > _max_members():
        raise _too_many(field)
    if joining:
        Membership.objects.bulk_create([Membership(room=locked, user=u) for u in joining])
        Invitation.objects.filter(
            room=locked, invitee__in=joining, state=Invitation.State.PENDING
        ).update(state=Invitation.State.ACCEPTED, responded_at=timezone.now())
        present.update(user.pk for user in joining)
        _refresh_members_on_commit(locked.pk)
        _post_invite_notice(room=locked, actor=actor, invited=joining)
    return joining


def _invite(
    locked: Room, *, inviter: User, users: list[User], field: str, present: set[int] | None = None
) -> list[User]:
    """Pending invitations to the locked group for `users` who are neither members nor
    already invited; each invitee hears of it on their own connections. Members plus
    pending invitations stay within the member limit. Returns everyone now invited."""
    present = _member_ids(locked) if present is None else present
    pending = set(
        Invitation.objects.filter(room=locked, state=Invitation.State.PENDING).values_list(
            "invitee_id", flat=True
        )
    )
    fresh = [user for user in users if user.pk not in present and user.pk not in pending]
    if len(present) + len(pending) + len(fresh) > _max_members():
        raise _too_many(field)
    for user in fresh:
        events.publish_invitation_new(
            Invitation.objects.create(room=locked, inviter=inviter, invitee=user)
        )
    return [user for user in users if user.pk not in present]


def room_add_members(*, room: Room, actor: User, user_ids: Iterable[int]) -> Room:
    """Make people members of a group room at once; the actor must be a member.

    The primitive under `group_add`, for callers that already decided who may join
    (operators, fixtures); people-facing paths use `group_add`. Users already in the
    room are skipped (adding is idempotent). A direct room never changes: 400
    `direct_room`.
    """
    ids = _clean_ids(user_ids, field="user_ids")
    if not ids:
        raise _invalid("user_ids", _("请选择要添加的成员"))
    with transaction.atomic():
        locked = _locked_group(room, actor)
        _join(locked, actor=actor, users=_active_users(ids, field="user_ids"), field="user_ids")
    return locked


def _split_acquainted(actor: User, users: list[User]) -> tuple[list[User], list[User]]:
    known = selectors.acquainted_ids(user=actor, ids=[user.pk for user in users])
    return (
        [user for user in users if user.pk in known],
        [user for user in users if user.pk not in known],
    )


def group_create(*, creator: User, name: str, member_ids: Iterable[int]) -> tuple[Room, list[User]]:
    """A person starts a group: acquaintances (`selectors.acquainted_ids`) join at once,
    everyone else gets an invitation. Returns (room, the invited). Validation as in
    `room_create_group`; the member limit counts the invited too."""
    ids = [
        user_id for user_id in _clean_ids(member_ids, field="member_ids") if user_id != creator.pk
    ]
    if len(ids) + 1 > _max_members():
        raise _too_many("member_ids")
    joining, strangers = _split_acquainted(creator, _active_users(ids, field="member_ids"))
    with transaction.atomic():
        room = room_create_group(
            creator=creator, name=name, member_ids=[user.pk for user in joining]
        )
        invited = _invite(room, inviter=creator, users=strangers, field="member_ids")
    return room, invited


def group_add(*, room: Room, actor: User, user_ids: Iterable[int]) -> tuple[Room, list[User]]:
    """A member adds people to a group: acquaintances join at once, everyone else gets an
    invitation (at most one pending per person and room). Returns (room, the invited
    who are not members yet). Errors as in `room_add_members`."""
    ids = _clean_ids(user_ids, field="user_ids")
    if not ids:
        raise _invalid("user_ids", _("请选择要添加的成员"))
    with transaction.atomic():
        locked = _locked_group(room, actor)
        joining, strangers = _split_acquainted(actor, _active_users(ids, field="user_ids"))
        present = _member_ids(locked)
        _join(locked, actor=actor, users=joining, field="user_ids", present=present)
        invited = _invite(locked, inviter=actor, users=strangers, field="user_ids", present=present)
    return locked, invited


def _answerable(invitation_id: object, user: User) -> tuple[Room, Invitation]:
    """The room and the user's own invitation, locked in that order (as `group_add`
    locks them); someone else's invitation is a 404, as one that does not exist."""
    invitation_pk = selectors.valid_id(invitation_id)
    room_id = (
        Invitation.objects.filter(pk=invitation_pk, invitee=user)
        .values_list("room_id", flat=True)
        .first()
        if invitation_pk is not None
        else None
    )
    if room_id is None or invitation_pk is None:
        raise NotFound()
    room = Room.objects.select_for_update().get(pk=room_id)
    invitation = Invitation.objects.select_for_update().get(pk=invitation_pk)
    return room, invitation


def _answer(invitation: Invitation, state: str) -> None:
    invitation.state = state
    invitation.responded_at = timezone.now()
    invitation.save(update_fields=["state", "responded_at"])


def invitation_accept(*, invitation_id: object, user: User) -> Room:
    """The invitee joins the group. Accepting twice is the same as once; a declined
    invitation is 409 `invitation_closed`; a full group is 400 `too_many_members` and
    the invitation stays pending."""
    with transaction.atomic():
        room, invitation = _answerable(invitation_id, user)
        if invitation.state == Invitation.State.ACCEPTED:
            return room
        if invitation.state != Invitation.State.PENDING:
            raise DomainError(_("该邀请已失效"), code="invitation_closed", status=409)
        _join(room, actor=invitation.inviter, users=[user], field="invitation")
        _answer(invitation, Invitation.State.ACCEPTED)
    return room


def invitation_decline(*, invitation_id: object, user: User) -> None:
    """The invitee says no; nothing else changes. Declining twice is the same as once; an
    accepted invitation is 409 `invitation_closed`."""
    with transaction.atomic():
        _room, invitation = _answerable(invitation_id, user)
        if invitation.state == Invitation.State.DECLINED:
            return
        if invitation.state != Invitation.State.PENDING:
            raise DomainError(_("该邀请已失效"), code="invitation_closed", status=409)
        _answer(invitation, Invitation.State.DECLINED)


def message_create(
    *,
    room: Room,
    sender: User | None,
    kind: str,
    text: str = "",
    packet_id: int | None = None,
    recipient: User | None = None,
    publish: bool = True,
    notice_key: str = "",
    notice_params: dict[str, Any] | None = None,
) -> Message:
    """Store a message; with `publish`, announce `message.new` after commit.

    A notice is posted as `notice_key` (one of `chat.notices.NOTICE_TEMPLATES`) and its
    `notice_params`, so every reader gets it in their own language; its `text` is then
    stored rendered in the site's language (the fallback, and what the admin shows).

    The event goes to the room's group, or only to the recipient's user group for a
    notice addressed to one member. Callers check membership and permissions; this only
    keeps the message well-formed (known kind, a packet id on packet messages, at most
    2000 characters). With `publish=False` the caller announces the message itself.
    """
    if kind not in Message.Kind.values:
        raise _invalid("kind", _("未知的消息类型"))
    notice_params = dict(notice_params or {})
    if notice_key:
        if kind != Message.Kind.NOTICE or notice_key not in notices.NOTICE_TEMPLATES:
            raise _invalid("notice_key", _("未知的提醒类型"))
        with translation.override(settings.LANGUAGE_CODE):
            text = notices.notice_text(notice_key, notice_params, fallback=text)
    text = text or ""
    if len(text) > MESSAGE_MAX_LENGTH:
        raise _invalid("text", _("消息不能超过2000个字"), code="text_too_long")
    if kind == Message.Kind.PACKET and packet_id is None:
        raise _invalid("packet_id", _("红包消息缺少红包"))
    # No savepoint: nothing here is retried on error, and the red packet services call
    # this inside their own short transactions, where a savepoint would cost two more
    # round trips while the packet's row lock is held.
    with transaction.atomic(savepoint=False):
        message = Message.objects.create(
            room=room,
            sender=sender,
            kind=kind,
            text=text,
            packet_id=packet_id,
            recipient=recipient,
            notice_key=notice_key,
            notice_params=notice_params,
        )
        if publish:
            events.publish_message_new(message)
    return message


@dataclass(frozen=True)
class Notice:
    """One private notice for `notices_create`: `notice_key` (one of
    `chat.notices.NOTICE_TEMPLATES`) with `notice_params`, in room `room_id`, seen only by
    `recipient_id`, about packet `packet_id`."""

    room_id: int
    recipient_id: int
    notice_key: str
    notice_params: dict[str, Any]
    packet_id: int | None = None


def notices_create(items: list[Notice]) -> list[Message]:
    """Store many private notices in one INSERT, each as `message_create(kind=NOTICE,
    sender=None, recipient=…, notice_key=…, publish=False)` stores one (a crediting
    batch's 红包被抢提醒): key and parameters, and the text in the site's language as the
    fallback. The caller announces them."""
    rows = []
    with translation.override(settings.LANGUAGE_CODE):
        for item in items:
            if item.notice_key not in notices.NOTICE_TEMPLATES:
                raise _invalid("notice_key", _("未知的提醒类型"))
            text = notices.notice_text(item.notice_key, item.notice_params)
            if len(text) > MESSAGE_MAX_LENGTH:
                raise _invalid("text", _("消息不能超过2000个字"), code="text_too_long")
            rows.append(
                Message(
                    room_id=item.room_id,
                    sender=None,
                    kind=Message.Kind.NOTICE,
                    text=text,
                    packet_id=item.packet_id,
                    recipient_id=item.recipient_id,
                    notice_key=item.notice_key,
                    notice_params=dict(item.notice_params),
                )
            )
    return Message.objects.bulk_create(rows)


def message_post_text(*, room: Room, sender: User, text: str) -> Message:
    """A member says something: trimmed, non-empty, at most 2000 characters (400 on `text`)."""
    if not isinstance(text, str) or not text.strip():
        raise _invalid("text", _("不能发送空白消息"), code="empty_text")
    text = text.strip()
    if len(text) > MESSAGE_MAX_LENGTH:
        raise _invalid("text", _("消息不能超过2000个字"), code="text_too_long")
    if not selectors.is_member(room_id=room.pk, user_id=sender.pk):
        raise NotFound()
    return message_create(room=room, sender=sender, kind=Message.Kind.TEXT, text=text)


def room_mark_read(*, room: Room, user: User, message_id: int) -> None:
    """Move the member's read marker forward to `message_id` (never backwards).

    Ids beyond the room's newest message are clamped to it, so a wrong id cannot hide
    messages that arrive later. One conditional UPDATE: concurrent tabs cannot move it back.
    """
    target = selectors.valid_id(message_id)
    if target is None:
        raise _invalid("message_id", _("无效的消息 id"))
    with transaction.atomic():
        newest = Message.objects.filter(room=room).aggregate(newest=Max("id"))["newest"] or 0
        target = min(target, newest)
        Membership.objects.filter(room=room, user=user, last_read_message_id__lt=target).update(
            last_read_message_id=target
        )
