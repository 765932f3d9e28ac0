"""拆 — open a packet: the gate admits at most `remaining` users, each once; only they
reach one short transaction that computes the share, decrements the packet and records
the claim. Opening twice returns the same share."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.data import message_data
from chat.events import publish_on_commit, user_group
from chat.models import Message, Room
from redpacket.accounts.models import User
from redpacket.accounts.selectors import user_data
from redpacket.packets import allocation, errors, facts, rules
from redpacket.packets.facts import PacketFacts
from redpacket.packets.gate import Admission, packet_store
from redpacket.packets.models import Claim, Packet
from redpacket.packets.services.common import allocation_secret, publish_to_rooms
from wallet import crediting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenResult:
    amount_fen: int
    repeat: bool


def member_room(packet_facts: PacketFacts, user_id: int) -> int | None:
    """The first room of the packet the user is in (cached membership: no SQL when warm)."""
    for room_id in packet_facts["room_ids"]:
        if chat_selectors.is_member(room_id=room_id, user_id=user_id):
            return room_id
    return None


def packet_facts_for(packet_id: int) -> PacketFacts:
    """Cached facts, rebuilt from the database on a miss; PacketNotFound if none."""
    cached = packet_store().snapshot(packet_id, 0).facts
    found = cached or facts.load(packet_id)
    if found is None:
        raise errors.PacketNotFound()
    return found


def packet_open(*, user: User, packet_id: int) -> OpenResult:
    """Open `packet_id` for `user`: a new share, or the one they already have (`repeat`).

    Refuses with 403 not_allowed (a non-member; the sender of a count-1 packet),
    410 expired, 409 finished. The unique (packet, user) index is the last guard.
    """
    packet_facts = packet_facts_for(packet_id)
    room_id = member_room(packet_facts, user.pk)
    if room_id is None:
        raise errors.PacketNotAllowed()
    if packet_facts["sender_id"] == user.pk and packet_facts["count"] == 1:
        raise errors.PacketNotAllowed(gettext("不能领取自己发给对方的红包"))

    store = packet_store()
    if (
        timezone.now().timestamp() >= packet_facts["expires_ts"]
        or packet_facts["status"] == rules.EXPIRED
    ):
        previous = (
            Claim.objects.filter(packet_id=packet_id, user=user)
            .values_list("amount_fen", flat=True)
            .first()
        )
        if previous is not None:
            return OpenResult(previous, repeat=True)
        store.close(packet_id)
        raise errors.PacketExpired()

    admission = store.admit(packet_id, user.pk)
    if admission is Admission.MISSING:
        facts.build_gate(Packet.objects.get(pk=packet_id))
        admission = store.admit(packet_id, user.pk)
    if admission is Admission.FINISHED:
        raise errors.PacketFinished()
    if admission is Admission.ALREADY:
        previous = (
            Claim.objects.filter(packet_id=packet_id, user=user)
            .values_list("amount_fen", flat=True)
            .first()
        )
        if previous is not None:
            store.record(packet_id, user.pk, previous)
            return OpenResult(previous, repeat=True)
        # Admitted earlier by an attempt that died before its transaction: go on.

    try:
        result = _claim(user=user, packet_facts=packet_facts, room_id=room_id)
    except (errors.PacketFinished, errors.PacketExpired):
        store.close(packet_id)  # the database says no more shares: so does the gate now
        raise
    except BaseException:
        store.release(packet_id, user.pk)
        raise
    if result.repeat:
        store.restore(packet_id, user.pk, result.amount_fen)
    return result


def _claim(*, user: User, packet_facts: PacketFacts, room_id: int) -> OpenResult:
    """The one short transaction: lock the packet row, take the next share, record it.

    Whatever can be read before the lock is (the notice's room; the rooms to announce to
    come from the cached facts), so the row lock is held only for the claim's own
    statements: the lock's length is what bounds opens per second on one hot packet."""
    store = packet_store()
    packet_id = packet_facts["id"]
    # The notice is stored in this room, not published, by message_create: only the
    # room's id is needed, and it comes from the membership check.
    notice_room = Room(pk=room_id)
    mine = Claim.objects.filter(packet=OuterRef("pk"), user=user).values("amount_fen")[:1]
    now = timezone.now()
    try:
        with transaction.atomic():
            # One statement locks the packet and finds the caller's earlier share.
            packet = (
                Packet.objects.select_for_update()
                .annotate(previous_fen=Subquery(mine))
                .get(pk=packet_id)
            )
            if packet.previous_fen is not None:
                return OpenResult(packet.previous_fen, repeat=True)
            if packet.status == Packet.Status.EXPIRED or packet.expires_at <= now:
                raise errors.PacketExpired()
            if packet.remaining_count == 0:
                raise errors.PacketFinished()

            index = packet.count - packet.remaining_count
            amount = allocation.share_for_index(
                kind=packet.kind,
                index=index,
                count=packet.count,
                remaining_fen=packet.remaining_fen,
                share_fen=packet.share_fen,
                secret=allocation_secret(),
                packet_id=packet.pk,
                max_share_fen=settings.REDPACKET_MAX_SHARE_FEN,
            )
            packet.remaining_count -= 1
            packet.remaining_fen -= amount
            finished = packet.remaining_count == 0
            if finished:
                packet.status = Packet.Status.FINISHED
                packet.finished_at = now
            packet.save(update_fields=["remaining_count", "remaining_fen", "status", "finished_at"])
            claim = Claim.objects.create(
                packet=packet, user=user, index=index, amount_fen=amount, opened_at=now
            )

            transaction.on_commit(lambda: store.record(packet_id, user.pk, amount))
            crediting.credit_queue(claim)
            _announce(
                packet=packet,
                user=user,
                room_ids=packet_facts["room_ids"],
                notice_room=notice_room,
                finished=finished,
            )
            return OpenResult(amount, repeat=False)
    except IntegrityError:
        # The unique (packet, user) index caught a second share: answer with the first.
        previous = Claim.objects.filter(packet_id=packet_id, user=user).first()
        if previous is None:
            raise
        return OpenResult(previous.amount_fen, repeat=True)


def _announce(
    *,
    packet: Packet,
    user: User,
    room_ids: list[int],
    notice_room: Room,
    finished: bool,
) -> None:
    """Events and the sender's notices (红包被抢提醒), all after commit. The sender who
    opens their own packet gets no "领取了" notice, but does get "已被领完" when theirs
    was the last share (SPEC §4)."""
    publish_to_rooms(
        room_ids,
        {
            "type": "packet.claimed",
            "packet_id": packet.pk,
            "user": user_data(user),
            "claimed_count": packet.count - packet.remaining_count,
            "count": packet.count,
        },
    )
    if finished:
        publish_to_rooms(room_ids, {"type": "packet.finished", "packet_id": packet.pk})
        transaction.on_commit(lambda: facts.forget(packet.pk))
    room = notice_room
    with translation.override(settings.LANGUAGE_CODE):  # stored in the site's language
        texts = []
        if user.pk != packet.sender_id:
            texts.append(gettext("%(name)s领取了你的红包") % {"name": user.name})
        if finished:
            texts.append(gettext("你的红包已被领完"))
    for text in texts:
        notice = chat_services.message_create(
            room=room,
            sender=None,
            kind=Message.Kind.NOTICE,
            text=text,
            packet_id=packet.pk,
            recipient=User(pk=packet.sender_id),  # only its id is stored
            publish=False,
        )
        publish_on_commit(
            user_group(packet.sender_id),
            {
                "type": "notice",
                "text": text,
                "room_id": room.pk,
                "packet_id": packet.pk,
                "message": message_data(notice),
            },
        )
