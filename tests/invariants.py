"""SPEC §8 invariants, checked after every test that moves money."""

from __future__ import annotations


def invariant_findings() -> list:
    """Every broken money invariant in the database right now (empty when all hold)."""
    from wallet.reconciliation import all_findings

    return all_findings()


def assert_invariants() -> None:
    findings = invariant_findings()
    assert not findings, "SPEC §8 invariants broken:\n" + "\n".join(map(str, findings))
