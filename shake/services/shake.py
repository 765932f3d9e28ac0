"""摇一摇 — one shake: a bounded, rate-limited slot; one atomic reservation in the
campaign store; for a win, one short database transaction under the campaign's row lock
that records it (the database is the truth: it never pays more than the budget or more
packets than the count, whatever the store says); the credit is queued after commit.

A shake answers at once: won (amount, sponsor, greeting), or not — no luck (also beyond
the pace line), sold out, the caller's win cap reached, or busy (too many shakes in
flight, or the caller shakes faster than one per interval). Busy never queues and never
errs. A campaign that is over (or not running yet) is 410; an unknown one 404.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from redpacket.accounts.models import User
from shake import draw, errors, facts
from shake.facts import CampaignFacts
from shake.models import Campaign, Tier, Win
from shake.services.end import end_locked
from shake.store import Outcome, Reservation, ShakeTerms, campaign_store
from wallet import crediting


class Reason(enum.StrEnum):
    NO_LUCK = "no_luck"
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"
    BUSY = "busy"


@dataclass(frozen=True)
class ShakeResult:
    won: bool
    reason: Reason | None = None
    amount_fen: int | None = None
    win_id: int | None = None
    sponsor: dict[str, Any] | None = None
    greeting: str | None = None

    @classmethod
    def lost(cls, reason: Reason) -> ShakeResult:
        return cls(won=False, reason=reason)

    def as_dict(self) -> dict[str, Any]:
        """API.md's answer: the won shape or `{"won": false, "reason"}`."""
        if not self.won:
            return {"won": False, "reason": str(self.reason)}
        return {
            "won": True,
            "amount_fen": self.amount_fen,
            "win_id": self.win_id,
            "sponsor": self.sponsor,
            "greeting": self.greeting,
        }


_REFUSALS = {
    Outcome.NO_LUCK: Reason.NO_LUCK,
    Outcome.SOLD_OUT: Reason.SOLD_OUT,
    Outcome.LIMIT_REACHED: Reason.LIMIT_REACHED,
}


def campaign_shake(
    *, user: User, campaign_id: int, rng: draw.RandomSource = secrets
) -> ShakeResult:
    """Shake once at `campaign_id`. `rng` (default `secrets`) draws the tier, amounts and
    the win-chance roll; only tests pass another. Raises CampaignNotFound (404) and
    CampaignOver (410); every other answer is a ShakeResult."""
    store = campaign_store()
    token = secrets.token_hex(8)
    admitted, cached = store.enter(
        campaign_id=campaign_id,
        user_id=user.pk,
        token=token,
        limit=settings.SHAKE_MAX_IN_FLIGHT,
        interval_ms=settings.SHAKE_USER_INTERVAL_MS,
    )
    if not admitted:
        return ShakeResult.lost(Reason.BUSY)
    try:
        return _shake(
            user=user, campaign_facts=facts.from_store(cached) or facts.load(campaign_id), rng=rng
        )
    finally:
        store.leave(token)


def _shake(*, user: User, campaign_facts: CampaignFacts, rng: draw.RandomSource) -> ShakeResult:
    campaign_id = campaign_facts["id"]
    now_ms = int(timezone.now().timestamp() * 1000)
    starts_ms, ends_ms = campaign_facts["starts_ms"], campaign_facts["ends_ms"]
    if campaign_facts["status"] == Campaign.Status.ENDED:
        if campaign_facts["end_reason"] == Campaign.EndReason.SOLD_OUT and now_ms < ends_ms:
            return ShakeResult.lost(Reason.SOLD_OUT)
        raise errors.CampaignOver()
    if now_ms < starts_ms:
        raise errors.CampaignNotStarted()
    if now_ms >= ends_ms:
        raise errors.CampaignOver()

    candidates = draw.draw_candidates(facts.tier_table(campaign_facts), rng)
    terms = ShakeTerms(
        now_ms=now_ms,
        starts_ms=starts_ms,
        ends_ms=ends_ms,
        allowed=draw.pace_allowance(
            count=campaign_facts["count"],
            starts_ms=starts_ms,
            ends_ms=ends_ms,
            now_ms=now_ms,
            burst=settings.SHAKE_BURST,
        ),
        per_user_cap=campaign_facts["per_user_cap"],
        min_share_fen=campaign_facts["min_share_fen"],
        chance_roll=rng.randbelow(draw.PPM),
        win_chance_ppm=campaign_facts["win_chance_ppm"],
        candidates=candidates,
    )
    store = campaign_store()
    reservation = store.reserve(campaign_id, user.pk, terms)
    if reservation.outcome is Outcome.MISSING:
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise errors.CampaignNotFound()
        facts.build_state(campaign)
        reservation = store.reserve(campaign_id, user.pk, terms)
    if reservation.outcome is Outcome.MISSING:  # gone again at once: treat as overload
        return ShakeResult.lost(Reason.BUSY)
    if reservation.outcome is Outcome.OVER:
        facts.forget(campaign_id)
        raise errors.CampaignOver()
    if reservation.outcome is not Outcome.WON:
        return ShakeResult.lost(_REFUSALS[reservation.outcome])

    try:
        return _record(
            user=user,
            campaign_facts=campaign_facts,
            reservation=reservation,
            candidates=candidates,
        )
    except BaseException:
        # The reservation never reached the database: give it back (same epoch only).
        store.give_back(
            campaign_id,
            user_id=user.pk,
            epoch=reservation.epoch,
            count=1,
            amount_fen=reservation.amount_fen,
        )
        raise


class _Refused(Exception):
    def __init__(self, outcome: Outcome, user_wins: int | None = None) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.user_wins = user_wins


def _record(
    *,
    user: User,
    campaign_facts: CampaignFacts,
    reservation: Reservation,
    candidates: list[draw.Candidate],
) -> ShakeResult:
    """Record a reserved win, or hand the reservation back as the database decides."""
    campaign_id = campaign_facts["id"]
    store = campaign_store()
    try:
        win = _record_win(
            user=user,
            campaign_facts=campaign_facts,
            reservation=reservation,
            candidates=candidates,
        )
    except _Refused as refused:
        facts.forget(campaign_id)
        if refused.outcome is Outcome.SOLD_OUT:
            store.sell_out(campaign_id)
            return ShakeResult.lost(Reason.SOLD_OUT)
        if refused.outcome is Outcome.LIMIT_REACHED:
            store.give_back(
                campaign_id,
                user_id=user.pk,
                epoch=reservation.epoch,
                count=1,
                amount_fen=reservation.amount_fen,
                user_wins=refused.user_wins,
            )
            return ShakeResult.lost(Reason.LIMIT_REACHED)
        store.close(campaign_id)
        raise errors.CampaignOver() from None
    return ShakeResult(
        won=True,
        amount_fen=win.amount_fen,
        win_id=win.pk,
        sponsor=campaign_facts["sponsor"],
        greeting=campaign_facts["greeting"],
    )


def _record_win(
    *,
    user: User,
    campaign_facts: CampaignFacts,
    reservation: Reservation,
    candidates: list[draw.Candidate],
) -> Win:
    """The one short transaction: lock the campaign row, re-check everything against the
    database's own numbers, re-pick the payout if the store's budget was wrong, record
    the win and count it; the campaign ends here when this was its last packet."""
    campaign_id = campaign_facts["id"]
    store = campaign_store()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        now = timezone.now()
        ended = campaign.status == Campaign.Status.ENDED
        if (ended and campaign.end_reason != Campaign.EndReason.SOLD_OUT) or not (
            campaign.starts_at <= now < campaign.ends_at
        ):
            raise _Refused(Outcome.OVER)
        left = campaign.count - campaign.won_count
        if ended or left <= 0:
            raise _Refused(Outcome.SOLD_OUT)
        user_wins = Win.objects.filter(campaign=campaign, user=user).count()
        if user_wins >= campaign.per_user_cap:
            raise _Refused(Outcome.LIMIT_REACHED, user_wins=user_wins)

        fit = draw.largest_fitting_amount(
            remaining_budget_fen=campaign.budget_fen - campaign.spent_fen,
            remaining_count=left,
            min_share_fen=campaign.min_share_fen,
        )
        position = reservation.candidate
        amount = reservation.amount_fen
        if not campaign.min_share_fen <= amount <= fit:
            # The store's budget was not the database's (a rebuild from an older read):
            # the database's own numbers decide, with the same candidates.
            picked = draw.choose(candidates, fit_fen=fit, min_share_fen=campaign.min_share_fen)
            if picked is None:
                raise _Refused(Outcome.SOLD_OUT)
            tier_index, amount = picked
            position = next((i for i, c in enumerate(candidates) if c.index == tier_index), None)
        tier_id = None
        if position is not None:
            tier_pk = campaign_facts["tiers"][candidates[position].index][0]
            tier_id = (
                Tier.objects.filter(pk=tier_pk, campaign=campaign)
                .values_list("pk", flat=True)
                .first()
            )

        win = Win.objects.create(
            campaign=campaign,
            user=user,
            index=campaign.won_count,
            amount_fen=amount,
            tier_id=tier_id,
        )
        campaign.spent_fen += amount
        campaign.won_count += 1
        campaign.save(update_fields=["spent_fen", "won_count"])
        crediting.credit_wake()

        given_back = reservation.amount_fen - amount
        if given_back > 0:
            transaction.on_commit(
                lambda: store.give_back(
                    campaign_id,
                    user_id=user.pk,
                    epoch=reservation.epoch,
                    count=0,
                    amount_fen=given_back,
                )
            )
        remaining = campaign.count - campaign.won_count
        if remaining == 0:
            end_locked(campaign=campaign, reason=Campaign.EndReason.SOLD_OUT, now=now)
        elif remaining % remaining_step(campaign.count) == 0:
            expire_at, as_of = facts.expire_at_ms(campaign), now.isoformat()
            transaction.on_commit(
                lambda: store.show_remaining(campaign_id, remaining, as_of, expire_at)
            )
    return win


def remaining_step(count: int) -> int:
    """The shown remaining count is refreshed each time the true one drops by this many
    (SHAKE_REMAINING_STEP_PERCENT of the packets, at least 1)."""
    return max(1, count * settings.SHAKE_REMAINING_STEP_PERCENT // 100)
