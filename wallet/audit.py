"""The money checks every escrowed flow shares (SPEC §8 #3 and #4), as findings.

Claims (red packets) and wins (shake) follow one pattern: money goes into an escrow, each
row is credited from it exactly once under "<prefix>:<id>", a rest is refunded exactly
once, and the escrow holds exactly what is still owed. The apps supply their rows and
numbers (`redpacket.packets.audit`, `shake.audit`); the rules are here, so wallet knows
neither app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Sum

from wallet.crediting import CREDITED, PENDING
from wallet.models import Account, Entry
from wallet.selectors import Finding, system_balance


def user_legs(kind: str) -> dict[str, int]:
    """Reference → total of the user-wallet legs of every ledger transaction of `kind`."""
    return dict(
        Entry.objects.filter(transaction__kind=kind, account__kind=Account.Kind.USER)
        .values("transaction__reference")
        .annotate(total=Sum("amount_fen"))
        .values_list("transaction__reference", "total")
    )


@dataclass(frozen=True)
class CreditedRows:
    """How one kind of creditable row is named in the ledger and in findings."""

    noun: str  # "claim": reference "claim:<id>", object "claim <id>"
    credit_kind: str  # the ledger transaction kind of its credits
    finding: str  # finding kind of a wrong credit
    orphan: str  # finding kind of a credit without its row
    orphan_actual: str = "{total}"  # how an orphan credit's amount is told


def credit_once_findings(spec: CreditedRows, rows: Iterable[tuple[int, int, str]]) -> list[Finding]:
    """Each credited row has exactly one credit of its amount, each pending one none, and
    no credit exists without its row. `rows` are (id, amount, credit status)."""
    findings: list[Finding] = []
    # References are unique in the ledger: "once" is one transaction whose user leg is
    # the row's amount.
    credits = user_legs(spec.credit_kind)
    for row_id, amount, status in rows:
        name = f"{spec.noun} {row_id}"
        credited = credits.pop(f"{spec.noun}:{row_id}", None)
        if status == CREDITED and credited != amount:
            findings.append(Finding(spec.finding, name, f"one credit of {amount}", str(credited)))
        if status == PENDING and credited is not None:
            findings.append(Finding(spec.finding, name, "pending: no credit yet", str(credited)))
    for reference, total in credits.items():
        findings.append(
            Finding(
                spec.orphan, reference, f"a {spec.noun}", spec.orphan_actual.format(total=total)
            )
        )
    return findings


def refund_once_findings(
    *,
    refunds: dict[str, int],
    expected: Iterable[tuple[str, str, int]],
    finding: str,
    orphan: str,
    orphan_expected: str,
    none_expected: str | None = None,
) -> list[Finding]:
    """Each (reference, object, amount) in `expected` was refunded exactly once with its
    amount (`refunds`: reference → amount, as `user_legs` gives them); no refund exists
    without its object. With `none_expected`, an amount of 0 expects no refund at all and
    says so in those words; without it every expected row needs its refund."""
    findings: list[Finding] = []
    refunds = dict(refunds)
    for reference, name, amount in expected:
        got = refunds.pop(reference, None)
        if none_expected is None:
            if got != amount:
                findings.append(Finding(finding, name, f"one refund of {amount}", str(got)))
        elif (got or 0) != amount:
            told = f"one refund of {amount}" if amount else none_expected
            findings.append(Finding(finding, name, told, str(got)))
    for reference, total in refunds.items():
        findings.append(Finding(orphan, reference, orphan_expected, str(total)))
    return findings


def escrow_findings(
    *, escrow: str, owed: int, finding: str, name: str, owed_is: str
) -> list[Finding]:
    """The escrow account holds exactly what is still owed from it."""
    balance = system_balance(escrow)
    if balance != owed:
        return [Finding(finding, name, f"{owed} ({owed_is})", str(balance))]
    return []
