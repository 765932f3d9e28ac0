"""Every write of the red packet domain (SPEC §3 lifecycle), one module per step."""

from redpacket.services.credit import claim_credit, claims_pending
from redpacket.services.expire import packet_expire, packets_expire_due
from redpacket.services.forward import packet_forward
from redpacket.services.open import OpenResult, packet_open
from redpacket.services.send import packet_send

__all__ = [
    "OpenResult",
    "claim_credit",
    "claims_pending",
    "packet_expire",
    "packet_forward",
    "packet_open",
    "packet_send",
    "packets_expire_due",
]
