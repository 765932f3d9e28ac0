"""Helpers the packet services share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from chat.events import publish_on_commit, room_group
from redpacket.packets import allocation
from redpacket.packets.rules import Limits

if TYPE_CHECKING:
    from redpacket.packets.facts import PacketFacts
    from redpacket.packets.models import Packet


def limits() -> Limits:
    return Limits(
        max_count=settings.REDPACKET_MAX_COUNT,
        max_share_fen=settings.REDPACKET_MAX_SHARE_FEN,
        greeting_max=settings.REDPACKET_GREETING_MAX,
        default_greeting=settings.REDPACKET_DEFAULT_GREETING,
    )


def allocation_secret() -> bytes:
    return settings.ALLOCATION_SECRET.encode()


def packet_shares_of(packet: Packet) -> list[int]:
    """The packet's shares in claim order under the server's secret (SPEC §3): what
    `packet_send` stores on the row and 对账 recomputes."""
    return allocation.packet_shares(
        kind=packet.kind,
        count=packet.count,
        total_fen=packet.total_fen,
        share_fen=packet.share_fen,
        secret=allocation_secret(),
        packet_id=packet.pk,
        max_share_fen=settings.REDPACKET_MAX_SHARE_FEN,
    )


def publish_to_rooms(room_ids: list[int], event: dict[str, Any]) -> None:
    """Send a packet event to every room the packet was posted in, after commit."""
    for room_id in room_ids:
        publish_on_commit(room_group(room_id), event)


def public_packet(facts: PacketFacts) -> dict[str, Any]:
    """The packet as anyone in the room may see it (API.md packet minus `total_fen`,
    which only the sender sees), with `to_user` (an exclusive packet's chosen member,
    else None)."""
    return {
        "id": facts["id"],
        "room_id": facts["room_id"],
        "kind": facts["kind"],
        "sender": facts["sender"],
        "greeting": facts["greeting"],
        "count": facts["count"],
        "share_fen": facts["share_fen"],
        "created_at": facts["created_at"],
        "expires_at": facts["expires_at"],
        "status": facts["status"],
        "to_user": facts.get("to_user"),
    }
