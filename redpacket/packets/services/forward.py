"""继续发送此红包 — the sender re-posts an unfinished packet to a room."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.data import message_data
from chat.models import Message, Room
from redpacket.accounts.models import User
from redpacket.packets import errors, facts
from redpacket.packets.models import Packet
from redpacket.packets.services.common import public_packet, publish_to_rooms
from redpacket.packets.services.open import member_room, packet_facts_for


def _sent_in_direct_room(packet_id: int) -> bool:
    return Packet.objects.filter(pk=packet_id, room__kind=Room.Kind.DIRECT).exists()


def packet_forward(*, user: User, packet_id: int, room_id: object) -> Message:
    """Post the packet again in `room_id` (a room the sender is in); its members may
    then open it too. Only the sender, only while it is neither finished nor expired,
    and never a direct room's packet into another room (409 `direct_packet`); an
    exclusive packet only into rooms its chosen member is in (403 `not_allowed`)."""
    packet_facts = packet_facts_for(packet_id)
    if member_room(packet_facts, user.pk) is None:
        raise errors.PacketNotFound()
    if packet_facts["sender_id"] != user.pk:
        raise errors.PacketNotAllowed(gettext("只有发红包的人可以继续发送"))
    room = chat_selectors.room_for_member(user=user, room_id=room_id)
    if room.pk != packet_facts["room_id"] and _sent_in_direct_room(packet_id):
        raise errors.DirectPacketNotForwardable()
    to_user_id = packet_facts.get("to_user_id")
    if to_user_id is not None and not chat_selectors.is_member(room_id=room.pk, user_id=to_user_id):
        raise errors.PacketNotAllowed(gettext("专属红包只能发到领取人所在的聊天"))
    with transaction.atomic():
        packet = Packet.objects.select_for_update().get(pk=packet_id)
        if packet.status == Packet.Status.FINISHED:
            raise errors.PacketFinished()
        if packet.status == Packet.Status.EXPIRED or packet.expires_at <= timezone.now():
            raise errors.PacketExpired()
        message = chat_services.message_create(
            room=room,
            sender=user,
            kind=Message.Kind.PACKET,
            text=packet.greeting,
            packet_id=packet.pk,
            publish=False,
        )
        transaction.on_commit(lambda: facts.forget(packet.pk))
        publish_to_rooms(
            [room.pk],
            {
                "type": "packet.new",
                "message": message_data(message),
                "packet": public_packet(facts.facts_of(packet)),
            },
        )
    return message
