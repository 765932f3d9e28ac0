"""Every write of the red packet domain (SPEC §3 lifecycle), one module per step."""

from redpacket.packets.services.credit import CLAIMS, claim_credit, claims_pending
from redpacket.packets.services.expire import packet_expire, packets_expire_due
from redpacket.packets.services.forward import packet_forward
from redpacket.packets.services.open import OpenResult, packet_open
from redpacket.packets.services.send import packet_send

__all__ = [
    "CLAIMS",
    "OpenResult",
    "claim_credit",
    "claims_pending",
    "packet_expire",
    "packet_forward",
    "packet_open",
    "packet_send",
    "packets_expire_due",
]
