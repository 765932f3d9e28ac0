"""退款 — expire packets past their TTL and refund the remainder to the sender, once."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from redpacket.accounts.models import User
from redpacket.kernel.events import publish_on_commit, user_group
from redpacket.packets import facts
from redpacket.packets.gate import packet_store
from redpacket.packets.models import Packet
from redpacket.packets.services.common import publish_to_rooms
from wallet import services as wallet
from wallet.models import Account, LedgerTransaction


def packet_expire(*, packet_id: int, force: bool = False, actor: User | None = None) -> bool:
    """Expire one packet (past its TTL, or now when `force`, the operators' action, whose
    `actor` the refund's ledger transaction records) and refund what is left. Another
    sweep holding the row skips it (SKIP LOCKED); the ledger reference
    "packet:<id>:refund" admits one refund, and its sender's connections hear
    `wallet.refunded` once, after commit. Returns whether this call did it."""
    now = timezone.now()
    with transaction.atomic():
        due = Packet.objects.select_for_update(skip_locked=True).filter(
            pk=packet_id, status=Packet.Status.ACTIVE
        )
        if not force:
            due = due.filter(expires_at__lte=now)
        packet = due.first()
        if packet is None:
            return False
        refund = packet.remaining_fen
        if refund:
            txn, created = wallet.wallet_credit_from_escrow(
                user=packet.sender,
                escrow=Account.Kind.PACKET_ESCROW,
                amount_fen=refund,
                reference=f"packet:{packet.pk}:refund",
                kind=LedgerTransaction.Kind.PACKET_REFUND,
                actor=actor,
            )
            if created:
                publish_on_commit(
                    user_group(packet.sender_id),
                    {
                        "type": "wallet.refunded",
                        "amount_fen": refund,
                        "balance_fen": wallet.balance_after(txn, packet.sender),
                        "packet_id": packet.pk,
                    },
                )
        packet.refunded_fen = refund
        packet.remaining_fen = 0
        packet.status = Packet.Status.EXPIRED
        packet.refunded_at = now
        if force and packet.expires_at > now:
            packet.expires_at = now
        packet.save(
            update_fields=["refunded_fen", "remaining_fen", "status", "refunded_at", "expires_at"]
        )
        transaction.on_commit(lambda: packet_store().close(packet.pk))
        transaction.on_commit(lambda: facts.forget(packet.pk))
        publish_to_rooms(
            facts.packet_room_ids(packet.pk), {"type": "packet.expired", "packet_id": packet.pk}
        )
    return True


def packets_expire_due(*, limit: int = 1000) -> int:
    """The sweep: expire every due packet (each in its own transaction). Returns how many."""
    due = Packet.objects.filter(status=Packet.Status.ACTIVE, expires_at__lte=timezone.now())
    done = 0
    for packet_id in due.order_by("expires_at").values_list("pk", flat=True)[:limit]:
        done += packet_expire(packet_id=packet_id)
    return done
