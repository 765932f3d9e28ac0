"""发 — send a packet: validate, take the money and create the packet in one step."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.data import message_data
from chat.models import Message, Room
from redpacket.accounts.models import User
from redpacket.kernel.errors import InvalidInput
from redpacket.packets import facts, rules
from redpacket.packets.models import Packet, PacketShares
from redpacket.packets.services.common import (
    limits,
    packet_shares_of,
    public_packet,
    publish_to_rooms,
)
from wallet import services as wallet
from wallet.models import Account, LedgerTransaction


def packet_send(
    *,
    sender: User,
    room_id: object,
    kind: str,
    count: int | None,
    total_fen: int | None = None,
    share_fen: int | None = None,
    to_user_id: int | None = None,
    greeting: str = "",
    pay_with: str | int = wallet.BALANCE,
    pin: str | None = None,
    request_key: str,
) -> Packet:
    """Send a packet to a room the sender is in, paid from change or a card. An exclusive
    packet (group rooms) is one share of `share_fen` for `to_user_id`, a member other
    than the sender.

    The money lands in packet escrow and the packet row and its room message exist, or
    none of them (one transaction; a card charge is refunded if it fails). The sender's
    money is taken at once, never merely frozen. One packet per sender and request key.
    After commit: the gate is built, the facts cached, `packet.new` pushed to the room.
    """
    request_key = wallet.check_request_key(request_key)
    existing = Packet.objects.filter(sender=sender, request_key=request_key).first()
    if existing is not None:
        return existing
    room = chat_selectors.room_for_member(user=sender, room_id=room_id)
    rule_limits = limits()
    greeting = (greeting or "").strip() or rule_limits.default_greeting
    member_ids = chat_selectors.room_member_ids(room.pk)
    problems = rules.send_errors(
        kind=kind,
        count=count,
        total_fen=total_fen,
        share_fen=share_fen,
        greeting=greeting,
        room_is_direct=room.kind == Room.Kind.DIRECT,
        member_count=len(member_ids),
        limits=rule_limits,
        to_user_id=to_user_id,
        sender_id=sender.pk,
        member_ids=member_ids,
    )
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)
    assert count is not None
    # send_errors refuses a normal or exclusive packet without its share: it is set there.
    total = total_fen if kind == Packet.Kind.LUCKY else cast(int, share_fen) * count
    assert total is not None

    card = (
        None if pay_with == wallet.BALANCE else wallet.card_for_user(user=sender, card_id=pay_with)
    )
    wallet.payment_authorize(user=sender, pin=pin)

    fund_reference = f"packet-fund:{sender.pk}:{request_key}"
    details = {
        "room": room,
        "sender": sender,
        "kind": kind,
        "count": count,
        "total_fen": total,
        "share_fen": share_fen if kind in rules.FIXED_SHARE_KINDS else None,
        "to_user_id": to_user_id if kind == Packet.Kind.EXCLUSIVE else None,
        "greeting": greeting,
        "request_key": request_key,
        "fund_reference": fund_reference,
    }
    if card is None:
        return _create(details, source=wallet.BALANCE)
    with wallet.card_charge(
        user=sender, card=card, amount_fen=total, request_key=request_key
    ) as charge:
        return _create({**details, "paid_with_card": card}, source=charge)


def _create(details: dict[str, Any], source: wallet.CardCharge | str) -> Packet:
    try:
        with transaction.atomic():
            wallet.wallet_pay_into_escrow(
                user=details["sender"],
                escrow=Account.Kind.PACKET_ESCROW,
                amount_fen=details["total_fen"],
                reference=details["fund_reference"],
                kind=LedgerTransaction.Kind.PACKET_FUND,
                source=source,
            )
            now = timezone.now()
            packet = Packet.objects.create(
                **details,
                remaining_count=details["count"],
                remaining_fen=details["total_fen"],
                created_at=now,
                expires_at=now + timedelta(seconds=settings.REDPACKET_TTL_SECONDS),
            )
            # The shares are keyed by the packet's id, known only now.
            PacketShares.objects.create(packet=packet, amounts=packet_shares_of(packet))
            message = chat_services.message_create(
                room=details["room"],
                sender=details["sender"],
                kind=Message.Kind.PACKET,
                text=details["greeting"],
                packet_id=packet.pk,
                publish=False,
            )
            packet_facts = facts.facts_of(packet, [details["room"].pk])
            # Registered first, so the gate exists before anyone hears of the packet.
            transaction.on_commit(lambda: facts.warm(packet, [details["room"].pk], sent=True))
            publish_to_rooms(
                [details["room"].pk],
                {
                    "type": "packet.new",
                    "message": message_data(message),
                    "packet": public_packet(packet_facts),
                },
            )
    except IntegrityError:
        # The same request raced itself: the first one's packet is the answer, and its
        # payment stands (both runs went through the request's one bank operation, which
        # the first one used: nothing to return here).
        existing = Packet.objects.filter(fund_reference=details["fund_reference"]).first()
        if existing is None:
            raise
        return existing
    return packet
