"""Create and start campaigns: the budget moves from the sponsor's change into campaign
escrow at once, in the transaction that creates the campaign (SPEC §5, API.md "Shake")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from redpacket.accounts.models import User
from redpacket.kernel.errors import InvalidInput
from shake import facts, rules
from shake.draw import DEFAULT_TIERS, PPM, TierRange
from shake.models import Campaign, SponsorAccount, Tier
from wallet import services as wallet
from wallet.models import Account, LedgerTransaction


def campaign_create(
    *,
    created_by: User,
    request_key: str,
    name: str,
    budget_fen: int,
    count: int,
    ends_at: datetime,
    greeting: str = "",
    starts_at: datetime | None = None,
    min_share_fen: int = 200,
    per_user_cap: int = 1,
    win_chance_ppm: int = PPM,
    sponsor_id: int | None = None,
    tiers: Sequence[TierRange] | None = None,
) -> Campaign:
    """Create a campaign and pay its whole budget from the sponsor's change into campaign
    escrow (422 insufficient_balance when the change is short), or neither.

    The sponsor is the creator unless `sponsor_id` names an account that ops marked as a
    sponsor (SPEC §1): an ordinary user's change never funds a campaign they did not
    create. Who may create campaigns at all is the caller's check (the campaign
    permission). One campaign per creator and request key (a server-side id): a repeat
    returns the first. Tiers default to SPEC §5's table. After commit the facts and the fast state
    are warmed.
    """
    request_key = wallet.check_request_key(request_key)
    existing = Campaign.objects.filter(created_by=created_by, request_key=request_key).first()
    if existing is not None:
        return existing
    sponsor = campaign_sponsor(created_by=created_by, sponsor_id=sponsor_id)

    now = timezone.now()
    starts_at = starts_at or now
    greeting = (greeting or "").strip() or settings.REDPACKET_DEFAULT_GREETING
    table = tuple(tiers) if tiers is not None else DEFAULT_TIERS
    problems = rules.campaign_errors(
        name=name,
        greeting=greeting,
        budget_fen=budget_fen,
        count=count,
        starts_at=starts_at,
        ends_at=ends_at,
        now=now,
        min_share_fen=min_share_fen,
        per_user_cap=per_user_cap,
        win_chance_ppm=win_chance_ppm,
        tiers=table,
    )
    if problems:
        raise InvalidInput(next(iter(problems.values())), fields=problems)

    fund_reference = f"campaign-fund:{created_by.pk}:{request_key}"
    try:
        with transaction.atomic():
            campaign = Campaign.objects.create(
                sponsor=sponsor,
                name=name.strip(),
                greeting=greeting,
                budget_fen=budget_fen,
                count=count,
                starts_at=starts_at,
                ends_at=ends_at,
                min_share_fen=min_share_fen,
                per_user_cap=per_user_cap,
                win_chance_ppm=win_chance_ppm,
                status=(Campaign.Status.RUNNING if starts_at <= now else Campaign.Status.SCHEDULED),
                request_key=request_key,
                fund_reference=fund_reference,
                created_by=created_by,
            )
            Tier.objects.bulk_create(
                Tier(
                    campaign=campaign,
                    probability_ppm=tier.probability_ppm,
                    min_fen=tier.min_fen,
                    max_fen=tier.max_fen,
                )
                for tier in table
            )
            wallet.wallet_pay_into_escrow(
                user=sponsor,
                escrow=Account.Kind.CAMPAIGN_ESCROW,
                amount_fen=budget_fen,
                reference=fund_reference,
                kind=LedgerTransaction.Kind.CAMPAIGN_FUND,
            )
            transaction.on_commit(lambda: facts.warm(campaign))
    except IntegrityError:
        # The same request raced itself: the first one's campaign is the answer.
        existing = Campaign.objects.filter(created_by=created_by, request_key=request_key).first()
        if existing is None:
            raise
        return existing
    return campaign


def campaign_sponsor(*, created_by: User, sponsor_id: int | None) -> User:
    """Whose change pays a campaign: the creator's own, or a marked sponsor account's."""
    if sponsor_id is None or sponsor_id == created_by.pk:
        return created_by
    account = (
        SponsorAccount.objects.select_related("user")
        .filter(user_id=sponsor_id, user__is_active=True)
        .first()
    )
    if account is None:
        message = _("只能由本人或已登记的赞助方账户出资")
        raise InvalidInput(message, fields={"sponsor_id": message})
    return account.user


def campaign_start(*, campaign_id: int) -> bool:
    """The operators' "start now": a scheduled campaign starts at once. Returns whether
    this call started it."""
    now = timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status=Campaign.Status.SCHEDULED, ends_at__gt=now)
            .first()
        )
        if campaign is None:
            return False
        campaign.status = Campaign.Status.RUNNING
        campaign.starts_at = min(campaign.starts_at, now)
        campaign.save(update_fields=["status", "starts_at"])
        campaign_terms_changed(campaign_id=campaign.pk)
    return True


def campaigns_start_due() -> int:
    """The sweep's other half: scheduled campaigns whose start time has come are running
    (one conditional UPDATE; the shake path already goes by the times themselves)."""
    now = timezone.now()
    due = list(
        Campaign.objects.filter(
            status=Campaign.Status.SCHEDULED, starts_at__lte=now, ends_at__gt=now
        ).values_list("pk", flat=True)
    )
    started = Campaign.objects.filter(pk__in=due, status=Campaign.Status.SCHEDULED).update(
        status=Campaign.Status.RUNNING
    )
    for campaign_id in due:
        facts.forget(campaign_id)
    return started


# What an operator may change on a campaign that exists: its terms. Money (sponsor,
# budget, count, minimum share) is fixed once paid; counters move only with wins and end.
EDITABLE_TERMS = frozenset(
    {"name", "greeting", "starts_at", "ends_at", "per_user_cap", "win_chance_ppm"}
)


def campaign_edit(*, campaign_id: int, terms: dict[str, object]) -> Campaign:
    """Change a campaign's terms under its row lock, writing only those columns: a win or
    an end committed meanwhile is never overwritten (the counters are not in the
    UPDATE). Call inside the editing transaction (tiers saved in it stay under the lock).
    """
    unknown = set(terms) - EDITABLE_TERMS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status == Campaign.Status.ENDED:
        raise InvalidInput(_("活动已结束，不能修改"), code="campaign_ended")
    changed = [name for name, value in terms.items() if getattr(campaign, name) != value]
    for name in changed:
        setattr(campaign, name, terms[name])
    if changed:
        campaign.save(update_fields=changed)
    campaign_terms_changed(campaign_id=campaign.pk)
    return campaign


def campaign_terms_changed(*, campaign_id: int) -> None:
    """After an edit (times, cap, chance, tiers) commits, the cached facts are dropped so
    the next shake reads the new terms. Call inside the editing transaction."""
    transaction.on_commit(lambda: facts.forget(campaign_id))
