"""SPEC §8 invariants #1 and #3 for red packets, as findings (empty when all hold).
Reconciliation stores them; the tests assert there are none. The credit-once, refund-once
and escrow rules are wallet's (`wallet.audit`, shared with shake's wins); this module
supplies the packets' rows and the per-packet checks (shares, counts, allocation)."""

from __future__ import annotations

from django.db.models import Count, JSONField, Min, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from redpacket.packets.models import Claim, Packet, PacketShares
from redpacket.packets.services.common import packet_shares_of
from wallet.audit import (
    CreditedRows,
    credit_once_findings,
    escrow_findings,
    refund_once_findings,
    user_legs,
)
from wallet.models import Account, LedgerTransaction
from wallet.selectors import Finding


def packet_ids() -> list[int]:
    """Every packet's id, in order: what 对账 checks one chunk at a time."""
    return list(Packet.objects.order_by("pk").values_list("pk", flat=True))


def packet_findings_for(ids: list[int]) -> list[Finding]:
    return packet_findings(Packet.objects.filter(pk__in=ids))


def packet_findings(packets: QuerySet[Packet] | None = None) -> list[Finding]:
    """Per packet: claimed + remaining + refunded = total, shares ≤ count, each share ≥ 1
    fen and equal to its recomputed allocation; an exclusive packet's one claim by its
    chosen member; per claim: credited exactly once."""
    findings: list[Finding] = []
    annotated = (packets if packets is not None else Packet.objects.all()).annotate(
        claimed=Coalesce(Sum("claims__amount_fen"), 0),
        claims_n=Count("claims"),
        smallest=Min("claims__amount_fen"),
        shares=Subquery(
            PacketShares.objects.filter(packet=OuterRef("pk")).values("amounts")[:1],
            output_field=JSONField(),
        ),
    )
    for packet in annotated.iterator(chunk_size=500):
        name = f"packet {packet.pk}"
        if packet.claimed + packet.remaining_fen + packet.refunded_fen != packet.total_fen:
            findings.append(
                Finding(
                    "packet_money",
                    name,
                    f"claimed+remaining+refunded = {packet.total_fen}",
                    f"{packet.claimed}+{packet.remaining_fen}+{packet.refunded_fen}",
                )
            )
        if packet.claims_n + packet.remaining_count != packet.count:
            findings.append(
                Finding(
                    "packet_count",
                    name,
                    f"claims+remaining = {packet.count}",
                    f"{packet.claims_n}+{packet.remaining_count}",
                )
            )
        if packet.smallest is not None and packet.smallest < 1:
            findings.append(Finding("share_below_one_fen", name, ">= 1", str(packet.smallest)))
        if packet.claims_n or packet.shares is not None:
            findings.extend(_allocation_findings(packet, packet.shares))
        if packet.kind == Packet.Kind.EXCLUSIVE and packet.claims_n:
            findings.extend(_exclusive_findings(packet, packet.claims_n))
    return findings


def _exclusive_findings(packet: Packet, claims_n: int) -> list[Finding]:
    """An exclusive packet has at most one claim, and only its chosen member's."""
    name = f"packet {packet.pk}"
    found: list[Finding] = []
    if claims_n > 1:
        found.append(Finding("exclusive_claims", name, "at most 1 claim", str(claims_n)))
    found += [
        Finding(
            "exclusive_claimant",
            f"claim {claim_id} ({name})",
            f"user {packet.to_user_id}",
            f"user {user_id}",
        )
        for claim_id, user_id in packet.claims.values_list("pk", "user_id")
        if user_id != packet.to_user_id
    ]
    return found


def _allocation_findings(packet: Packet, stored_shares: list[int] | None) -> list[Finding]:
    """The share list stored at send and every claim against the allocation recomputed
    from the secret."""
    expected = packet_shares_of(packet)
    stored: list[Finding] = []
    if stored_shares is not None and stored_shares != expected:
        # Not the values themselves: findings are shown in admin, the shares never.
        stored.append(Finding("stored_shares", f"packet {packet.pk}", "as allocated", "differ"))
    return stored + [
        Finding(
            "share_mismatch",
            f"claim {claim_id} (packet {packet.pk} #{index})",
            str(expected[index]) if index < len(expected) else "no such share",
            str(amount),
        )
        for claim_id, index, amount in packet.claims.values_list("pk", "index", "amount_fen")
        if index >= len(expected) or expected[index] != amount
    ]


CLAIMS = CreditedRows(
    noun="claim",
    credit_kind=LedgerTransaction.Kind.CLAIM_CREDIT,
    finding="claim_credit",
    orphan="orphan_credit",
    orphan_actual="credit of {total} without one",
)


def credit_findings() -> list[Finding]:
    """Each credited claim has exactly one credit movement of its amount, each pending one
    none; each refunded packet exactly one refund; packet escrow holds exactly what is
    still owed (remaining shares + pending credits)."""
    findings = credit_once_findings(
        CLAIMS,
        Claim.objects.values_list("pk", "amount_fen", "credit_status").iterator(chunk_size=2000),
    )
    findings += refund_once_findings(
        refunds=user_legs(LedgerTransaction.Kind.PACKET_REFUND),
        expected=(
            (f"packet:{packet_id}:refund", f"packet {packet_id}", refunded)
            for packet_id, refunded in Packet.objects.filter(refunded_fen__gt=0).values_list(
                "pk", "refunded_fen"
            )
        ),
        finding="packet_refund",
        orphan="orphan_refund",
        orphan_expected="a refunded packet",
    )
    owed = (
        (Packet.objects.aggregate(t=Coalesce(Sum("remaining_fen"), 0))["t"])
        + (
            Claim.objects.filter(credit_status=Claim.CreditStatus.PENDING).aggregate(
                t=Coalesce(Sum("amount_fen"), 0)
            )["t"]
        )
    )
    findings += escrow_findings(
        escrow=Account.Kind.PACKET_ESCROW,
        owed=owed,
        finding="packet_escrow",
        name="packet escrow",
        owed_is="remaining + pending credits",
    )
    return findings


def duplicate_claim_findings() -> list[Finding]:
    """No user holds two shares of one packet (the unique index makes this a tripwire)."""
    twice = Claim.objects.values("packet_id", "user_id").annotate(n=Count("pk")).filter(n__gt=1)
    return [
        Finding(
            "two_shares", f"packet {row['packet_id']} user {row['user_id']}", "1", str(row["n"])
        )
        for row in twice
    ]


__all__ = [
    "credit_findings",
    "duplicate_claim_findings",
    "packet_findings",
    "packet_findings_for",
    "packet_ids",
]
