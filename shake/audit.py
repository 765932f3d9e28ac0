"""SPEC §8 #3 and #4 for shake campaigns, as findings (empty when all hold).
Reconciliation stores them; the tests assert there are none. The credit-once, refund-once
and escrow rules are wallet's (`wallet.audit`, shared with red packet claims); this module
supplies the campaigns' rows and their own checks (budget, counters, cap, funding)."""

from __future__ import annotations

from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce

from shake.models import Campaign, Win
from wallet.audit import (
    CreditedRows,
    credit_once_findings,
    escrow_findings,
    refund_once_findings,
    user_legs,
)
from wallet.models import Account, Entry, LedgerTransaction
from wallet.selectors import Finding


def _fund_legs() -> dict[str, int]:
    return dict(
        Entry.objects.filter(
            transaction__kind=LedgerTransaction.Kind.CAMPAIGN_FUND,
            account__kind=Account.Kind.CAMPAIGN_ESCROW,
        )
        .values("transaction__reference")
        .annotate(total=Sum("amount_fen"))
        .values_list("transaction__reference", "total")
    )


WINS = CreditedRows(
    noun="win",
    credit_kind=LedgerTransaction.Kind.WIN_CREDIT,
    finding="win_credit",
    orphan="orphan_win_credit",
)


def campaign_findings() -> list[Finding]:
    """Per campaign: wins + unspent + refund = budget, wins ≤ count and ≤ budget, the
    counters match the win rows, no user beyond the cap, the budget funded once; per
    win: credited exactly once (ledger "win:<id>"), pending ones not at all; per ended
    campaign: its rest refunded exactly once; campaign escrow holds exactly what is still
    owed (unspent budget of campaigns not yet ended + wins not yet credited)."""
    findings: list[Finding] = []
    funds = _fund_legs()
    refund_expected: list[tuple[str, str, int]] = []
    campaigns = Campaign.objects.annotate(
        paid=Coalesce(Sum("wins__amount_fen"), 0), wins_n=Count("wins")
    )
    for campaign in campaigns.iterator(chunk_size=500):
        name = f"campaign {campaign.pk}"
        ended = campaign.status == Campaign.Status.ENDED
        unspent = 0 if ended else campaign.budget_fen - campaign.paid
        if campaign.paid + unspent + campaign.refunded_fen != campaign.budget_fen:
            findings.append(
                Finding(
                    "campaign_money",
                    name,
                    f"wins+unspent+refund = {campaign.budget_fen}",
                    f"{campaign.paid}+{unspent}+{campaign.refunded_fen}",
                )
            )
        if campaign.paid > campaign.budget_fen:
            findings.append(
                Finding("campaign_overspent", name, f"<= {campaign.budget_fen}", str(campaign.paid))
            )
        if campaign.wins_n > campaign.count:
            findings.append(
                Finding("campaign_overcount", name, f"<= {campaign.count}", str(campaign.wins_n))
            )
        if (campaign.spent_fen, campaign.won_count) != (campaign.paid, campaign.wins_n):
            findings.append(
                Finding(
                    "campaign_counters",
                    name,
                    f"spent {campaign.paid}, won {campaign.wins_n} (the win rows)",
                    f"spent {campaign.spent_fen}, won {campaign.won_count}",
                )
            )
        funded = funds.pop(campaign.fund_reference, None)
        if funded != campaign.budget_fen:
            findings.append(
                Finding("campaign_fund", name, f"one fund of {campaign.budget_fen}", str(funded))
            )
        refund_expected.append((f"campaign:{campaign.pk}:refund", name, campaign.refunded_fen))
    for reference, total in funds.items():
        findings.append(Finding("orphan_campaign_fund", reference, "a campaign", str(total)))
    findings += refund_once_findings(
        refunds=user_legs(LedgerTransaction.Kind.CAMPAIGN_REFUND),
        expected=refund_expected,
        finding="campaign_refund",
        orphan="orphan_campaign_refund",
        orphan_expected="a campaign",
        none_expected="none",
    )

    over_cap = (
        Win.objects.values("campaign_id", "user_id", "campaign__per_user_cap")
        .annotate(n=Count("pk"))
        .filter(n__gt=F("campaign__per_user_cap"))
    )
    for row in over_cap:
        findings.append(
            Finding(
                "win_cap",
                f"campaign {row['campaign_id']} user {row['user_id']}",
                f"<= {row['campaign__per_user_cap']} wins",
                str(row["n"]),
            )
        )

    findings += credit_once_findings(
        WINS,
        Win.objects.values_list("pk", "amount_fen", "credit_status").iterator(chunk_size=2000),
    )

    owed = (
        Campaign.objects.exclude(status=Campaign.Status.ENDED).aggregate(
            t=Coalesce(Sum("budget_fen"), 0) - Coalesce(Sum("spent_fen"), 0)
        )["t"]
        + Win.objects.filter(credit_status=Win.CreditStatus.PENDING).aggregate(
            t=Coalesce(Sum("amount_fen"), 0)
        )["t"]
    )
    findings += escrow_findings(
        escrow=Account.Kind.CAMPAIGN_ESCROW,
        owed=owed,
        finding="campaign_escrow",
        name="campaign escrow",
        owed_is="unspent budgets + pending wins",
    )
    return findings


__all__ = ["campaign_findings"]
