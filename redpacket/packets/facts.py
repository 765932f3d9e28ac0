"""A packet's display facts and its gate, kept warm in the packet store (Redis or
in-process) so the grab check needs no SQL. Rebuilt from the database when missing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.utils import timezone

from redpacket.accounts.selectors import user_data
from redpacket.packets.gate import packet_store
from redpacket.packets.models import Claim, Packet

# Keys outlive their packet by this much, then Redis forgets them.
GRACE = timedelta(days=1)
# Facts are re-read from the database this often at most (status changes also drop them).
FACTS_TTL_MS = 5 * 60 * 1000


class PacketFacts(TypedDict):
    """A packet's facts as cached (JSON: `rp:{id}:facts`) and passed around: the same for
    every viewer, plus what the grab and open checks need."""

    id: int
    room_id: int
    room_ids: list[int]  # every room it was posted in (its own, and where forwarded)
    kind: str  # Packet.Kind
    sender: dict[str, Any]  # accounts.selectors.user_data
    sender_id: int
    greeting: str
    count: int
    total_fen: int
    share_fen: int | None  # None for a lucky packet
    created_at: str  # ISO 8601
    expires_at: str  # ISO 8601
    expires_ts: float  # expires_at as a POSIX timestamp
    status: str  # Packet.Status as stored (expiry is applied by the reader)
    # An exclusive packet's chosen member (None for other kinds). Facts cached before the
    # field lack both keys: readers use .get().
    to_user_id: int | None
    to_user: dict[str, Any] | None  # accounts.selectors.user_data


def _ttl_ms(expires_at: datetime) -> int:
    return max(int((expires_at + GRACE - timezone.now()).total_seconds() * 1000), 1000)


def packet_room_ids(packet_id: int) -> list[int]:
    """Every room the packet was posted in (its own, and where the sender forwarded it)."""
    from chat.models import Message

    return sorted(
        set(
            Message.objects.filter(packet_id=packet_id, kind=Message.Kind.PACKET).values_list(
                "room_id", flat=True
            )
        )
    )


def facts_of(packet: Packet, room_ids: list[int] | None = None) -> PacketFacts:
    """The packet as every viewer may see it (no per-viewer fields), plus what the checks need."""
    return {
        "id": packet.pk,
        "room_id": packet.room_id,
        "room_ids": room_ids if room_ids is not None else packet_room_ids(packet.pk),
        "kind": packet.kind,
        "sender": user_data(packet.sender),
        "sender_id": packet.sender_id,
        "greeting": packet.greeting,
        "count": packet.count,
        "total_fen": packet.total_fen,
        "share_fen": packet.share_fen,
        "created_at": packet.created_at.isoformat(),
        "expires_at": packet.expires_at.isoformat(),
        "expires_ts": packet.expires_at.timestamp(),
        "status": packet.status,
        "to_user_id": packet.to_user_id,
        "to_user": user_data(packet.to_user) if packet.to_user is not None else None,
    }


def warm(packet: Packet, room_ids: list[int] | None = None, *, sent: bool = False) -> PacketFacts:
    """Cache the packet's facts and make sure its gate exists; returns the facts.

    `sent`: called right after the packet was sent, when no share can exist yet (a share
    needs the gate's admission, and the gate is built here or by the first open), so the
    gate is built without reading the claims."""
    facts = facts_of(packet, room_ids)
    store = packet_store()
    store.put_facts(packet.pk, facts, min(FACTS_TTL_MS, _ttl_ms(packet.expires_at)))
    build_gate(packet, opened={} if sent else None)
    return facts


def build_gate(packet: Packet, *, opened: dict[int, int] | None = None) -> None:
    """(Re)build the gate from the database: places = shares left (0 once over), and the
    shares already opened (read unless given). Safe to race: only the first rebuild
    writes."""
    open_for_claims = packet.status == Packet.Status.ACTIVE and packet.expires_at > timezone.now()
    if opened is None:
        opened = dict(Claim.objects.filter(packet=packet).values_list("user_id", "amount_fen"))
    packet_store().build_gate(
        packet.pk,
        packet.remaining_count if open_for_claims else 0,
        opened,
        _ttl_ms(packet.expires_at),
    )


def load(packet_id: int) -> PacketFacts | None:
    """Facts from the database (warming the store), or None if there is no such packet."""
    packet = Packet.objects.select_related("sender", "to_user").filter(pk=packet_id).first()
    return warm(packet) if packet is not None else None


def forget(packet_id: int) -> None:
    """Drop cached facts after a change (status, rooms); the next reader rebuilds them."""
    packet_store().drop_facts(packet_id)


def ttl_seconds() -> int:
    return int(settings.REDPACKET_TTL_SECONDS)
