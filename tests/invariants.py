"""SPEC §8 invariants, checked after every test that moves money."""

from __future__ import annotations


def invariant_findings() -> list:
    """Every broken money invariant in the database right now (empty when all hold)."""
    from redpacket.audit import credit_findings, duplicate_claim_findings, packet_findings
    from shake.audit import campaign_findings
    from wallet.selectors import ledger_findings

    return (
        ledger_findings()
        + packet_findings()
        + credit_findings()
        + duplicate_claim_findings()
        + campaign_findings()
    )


def assert_invariants() -> None:
    findings = invariant_findings()
    assert not findings, "SPEC §8 invariants broken:\n" + "\n".join(map(str, findings))
