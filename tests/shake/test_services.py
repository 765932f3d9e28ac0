"""The shake services on whichever database and store the environment names (SQLite and
the in-process store by default; PostgreSQL and Redis in CI). SPEC §8 after each."""

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from redpacket.kernel.errors import InvalidInput
from shake import errors, facts, selectors, services
from shake.draw import DEFAULT_TIERS, TierRange
from shake.models import Campaign, Win
from shake.services import Reason
from shake.store import campaign_store
from tests.invariants import assert_invariants
from tests.shake.conftest import Rolls
from wallet import errors as wallet_errors
from wallet.models import Account
from wallet.selectors import balance_of, system_balance

pytestmark = pytest.mark.django_db


# --- Create -----------------------------------------------------------------------------


def test_create_pays_the_whole_budget_into_campaign_escrow_once(sponsor, make_campaign):
    before = balance_of(sponsor)
    campaign = make_campaign(budget_fen=90_000, count=100, request_key="k1")
    again = make_campaign(budget_fen=90_000, count=100, request_key="k1")
    assert again.pk == campaign.pk
    assert balance_of(sponsor) == before - 90_000
    assert system_balance(Account.Kind.CAMPAIGN_ESCROW) == 90_000
    assert campaign.status == Campaign.Status.RUNNING
    assert [(t.probability_ppm, t.min_fen, t.max_fen) for t in campaign.tiers.all()] == [
        (t.probability_ppm, t.min_fen, t.max_fen) for t in DEFAULT_TIERS[::-1]
    ]
    assert campaign.min_share_fen == 200 and campaign.per_user_cap == 1
    assert_invariants()


def test_create_for_a_marked_sponsor_account_takes_its_change(
    sponsor, make_user, fund, mark_sponsor, make_campaign
):
    other = mark_sponsor(make_user())
    fund(other, 70_000)
    campaign = make_campaign(budget_fen=70_000, count=10, sponsor_id=other.pk)
    assert campaign.sponsor == other and campaign.created_by == sponsor
    assert balance_of(other) == 0
    assert_invariants()


def test_an_ordinary_users_change_never_funds_anothers_campaign(make_user, fund, make_campaign):
    # Before the fix any creator could name any user as sponsor and spend their change.
    victim = make_user()
    fund(victim, 70_000)
    with pytest.raises(InvalidInput) as refused:
        make_campaign(budget_fen=70_000, count=10, sponsor_id=victim.pk)
    assert "sponsor_id" in refused.value.fields
    assert balance_of(victim) == 70_000
    assert not Campaign.objects.exists()
    assert_invariants()


def test_create_with_short_change_refuses_and_changes_nothing(make_operator, fund, make_campaign):
    poor = make_operator()
    fund(poor, 10_000)
    with pytest.raises(wallet_errors.InsufficientBalance):
        make_campaign(budget_fen=70_000, count=10, created_by=poor)
    assert balance_of(poor) == 10_000
    assert not Campaign.objects.exists()
    assert_invariants()


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"tiers": [TierRange(500_000, 200, 500), TierRange(400_000, 500, 900)]}, "tiers"),
        ({"tiers": [TierRange(1_000_000, 900, 500)]}, "tiers"),
        ({"tiers": [TierRange(1_000_000, 100, 500)]}, "tiers"),  # below the minimum share
        ({"tiers": [TierRange(1_000_000, 90_000, 90_000)]}, "tiers"),  # no tier fits at all
        ({"budget_fen": 1_999, "count": 10}, "budget_fen"),
        ({"count": 0}, "count"),
        ({"per_user_cap": 0}, "per_user_cap"),
        ({"win_chance_ppm": 0}, "win_chance_ppm"),
        ({"greeting": "恭" * 26}, "greeting"),
    ],
)
def test_create_refuses_bad_terms_with_fields(sponsor, make_campaign, terms, field):
    before = balance_of(sponsor)
    with pytest.raises(InvalidInput) as refused:
        make_campaign(**{"budget_fen": 50_000, "count": 100, **terms})
    assert field in refused.value.fields
    assert balance_of(sponsor) == before and not Campaign.objects.exists()


def test_default_tiers_with_a_small_budget_are_accepted_and_every_draw_fits(
    make_user, make_campaign, credit_pending
):
    """Issue #16 finding 10: ¥100 for 20 packets (¥2 minimum) with SPEC §5's default table
    was refused ("第4档…超出预算"); the unaffordable tiers are skipped when drawing."""
    campaign = make_campaign(budget_fen=10_000, count=20)
    assert sorted((t.min_fen, t.max_fen) for t in campaign.tiers.all()) == sorted(
        (tier.min_fen, tier.max_fen) for tier in DEFAULT_TIERS
    )
    # The ¥618 tier first: it cannot fit (¥100 − 19 × ¥2 = ¥62), nor can ¥20–50 drawn at
    # ¥50 after it; ¥5–20 pays its drawn amount.
    first = services.campaign_shake(
        user=make_user(), campaign_id=campaign.pk, rng=Rolls(999_999, 0, 3_000, 1_000)
    )
    assert first.won and first.amount_fen <= 10_000 - 19 * 200
    paid = [first.amount_fen]
    for _ in range(19):
        result = services.campaign_shake(
            user=make_user(), campaign_id=campaign.pk, rng=Rolls(999_999, 0, 3_000, 1_500)
        )
        assert result.won
        paid.append(result.amount_fen)
    assert sum(paid) <= 10_000 and min(paid) >= 200
    credit_pending()
    assert_invariants()


def test_create_refuses_an_end_before_the_start(make_campaign):
    now = timezone.now()
    with pytest.raises(InvalidInput) as refused:
        make_campaign(starts_at=now + timedelta(hours=2), ends_at=now + timedelta(hours=1))
    assert "ends_at" in refused.value.fields


# --- Shake ------------------------------------------------------------------------------


def test_a_shake_wins_an_amount_of_its_tier_and_is_credited(
    make_user, make_campaign, credit_pending
):
    campaign = make_campaign(budget_fen=100_000, count=100)
    user = make_user()
    # roll 0 → the ¥2–5 tier, amount 200 + 123; then the cheaper tiers (none); chance roll 0
    result = services.campaign_shake(user=user, campaign_id=campaign.pk, rng=Rolls(0, 123, 0))
    assert result.won and result.amount_fen == 323
    assert result.sponsor["id"] == campaign.sponsor_id and result.greeting == campaign.greeting
    win = Win.objects.get(pk=result.win_id)
    assert (win.user, win.amount_fen, win.index) == (user, 323, 0)
    assert win.tier.min_fen == 200
    credit_pending()
    win.refresh_from_db()
    assert win.credit_status == Win.CreditStatus.CREDITED
    assert balance_of(user) == 323
    campaign.refresh_from_db()
    assert (campaign.spent_fen, campaign.won_count) == (323, 1)
    assert_invariants()


def test_the_618_easter_egg_can_be_won(make_user, make_campaign, credit_pending):
    campaign = make_campaign(budget_fen=200_000, count=10)
    user = make_user()
    result = services.campaign_shake(user=user, campaign_id=campaign.pk, rng=Rolls(999_999))
    assert result.won and result.amount_fen == 61_800
    assert Win.objects.get(pk=result.win_id).tier.min_fen == 61_800
    credit_pending()
    assert balance_of(user) == 61_800
    assert_invariants()


def test_a_tier_that_no_longer_fits_is_skipped_or_clamped(make_user, make_campaign):
    # ¥618 + ¥30 for 2 packets: after the ¥618 win only ¥30 is left for the last packet.
    campaign = make_campaign(budget_fen=64_800, count=2)
    first = services.campaign_shake(user=make_user(), campaign_id=campaign.pk, rng=Rolls(999_999))
    assert first.amount_fen == 61_800
    # ¥618 again: skipped; the ¥20–50 tier drew 2000 + 2500 = ¥45, clamped to the ¥30 left.
    second = services.campaign_shake(
        user=make_user(), campaign_id=campaign.pk, rng=Rolls(999_999, 0, 2_500)
    )
    assert second.won and second.amount_fen == 3_000
    assert_invariants()


def test_no_fitting_tier_falls_back_to_a_cheaper_one(make_user, make_campaign):
    # ¥618 + ¥10 for 2 packets: the last may pay ¥10, below the ¥20–50 tier.
    campaign = make_campaign(budget_fen=62_800, count=2)
    services.campaign_shake(user=make_user(), campaign_id=campaign.pk, rng=Rolls(999_999))
    # ¥618 skipped, ¥20–50 skipped, ¥5–20 drew 500 + 1200 = ¥17: clamped to ¥10.
    last = services.campaign_shake(
        user=make_user(), campaign_id=campaign.pk, rng=Rolls(999_999, 0, 0, 1_200)
    )
    assert last.won and last.amount_fen == 1_000
    win = Win.objects.get(pk=last.win_id)
    assert (win.tier.min_fen, win.tier.max_fen) == (500, 2_000)
    assert_invariants()


def test_the_cap_per_user_answers_limit_reached(make_user, make_campaign):
    campaign = make_campaign(per_user_cap=2)
    user = make_user()
    answers = [services.campaign_shake(user=user, campaign_id=campaign.pk) for _ in range(3)]
    assert [a.won for a in answers] == [True, True, False]
    assert answers[2].reason == Reason.LIMIT_REACHED
    assert Win.objects.filter(user=user).count() == 2
    assert_invariants()


@pytest.mark.django_db(transaction=True)  # after-commit effects
def test_the_last_packet_ends_the_campaign_and_refunds_the_rest_once(
    sponsor, make_user, make_campaign, credit_pending
):
    campaign = make_campaign(budget_fen=70_000, count=2)
    before = balance_of(sponsor)
    wins = [services.campaign_shake(user=make_user(), campaign_id=campaign.pk) for _ in range(2)]
    assert all(w.won for w in wins)
    late = services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    assert late == services.ShakeResult.lost(Reason.SOLD_OUT)
    campaign.refresh_from_db()
    paid = sum(w.amount_fen for w in wins)
    assert campaign.status == Campaign.Status.ENDED
    assert campaign.end_reason == Campaign.EndReason.SOLD_OUT
    assert campaign.refunded_fen == 70_000 - paid
    assert balance_of(sponsor) == before + 70_000 - paid
    assert not services.campaign_end(campaign_id=campaign.pk, force=True)  # never twice
    assert selectors.campaign_remaining(campaign_id=campaign.pk).remaining == 0
    credit_pending()
    assert_invariants()


def test_beyond_the_pace_line_is_no_luck(settings, make_user, make_campaign):
    settings.SHAKE_BURST = 3
    now = timezone.now()
    # 100 packets over 1000 s, 5 s in: the pace line allows 0 + the burst of 3.
    campaign = make_campaign(
        count=100, starts_at=now - timedelta(seconds=5), ends_at=now + timedelta(seconds=995)
    )
    answers = [services.campaign_shake(user=make_user(), campaign_id=campaign.pk) for _ in range(6)]
    assert [a.won for a in answers] == [True, True, True, False, False, False]
    assert {a.reason for a in answers[3:]} == {Reason.NO_LUCK}
    assert_invariants()


def test_the_win_chance_decides_within_the_pace(make_user, make_campaign):
    campaign = make_campaign(win_chance_ppm=500_000)
    user = make_user()
    lost = services.campaign_shake(user=user, campaign_id=campaign.pk, rng=Rolls(0, 0, 500_000))
    won = services.campaign_shake(user=user, campaign_id=campaign.pk, rng=Rolls(0, 0, 499_999))
    assert lost.reason == Reason.NO_LUCK and won.won
    assert_invariants()


def test_a_campaign_not_started_or_over_is_410(make_user, make_campaign):
    now = timezone.now()
    later = make_campaign(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    assert later.status == Campaign.Status.SCHEDULED
    with pytest.raises(errors.CampaignOver) as refused:
        services.campaign_shake(user=make_user(), campaign_id=later.pk)
    assert refused.value.status == 410 and refused.value.code == "campaign_over"
    ended = make_campaign()
    services.campaign_end(campaign_id=ended.pk, force=True)
    with pytest.raises(errors.CampaignOver):
        services.campaign_shake(user=make_user(), campaign_id=ended.pk)
    with pytest.raises(errors.CampaignNotFound):
        services.campaign_shake(user=make_user(), campaign_id=ended.pk + 1000)
    assert_invariants()


def test_shaking_faster_than_the_interval_is_busy(settings, make_user, make_campaign):
    settings.SHAKE_USER_INTERVAL_MS = 60_000
    campaign = make_campaign(per_user_cap=5)
    user = make_user()
    first = services.campaign_shake(user=user, campaign_id=campaign.pk)
    second = services.campaign_shake(user=user, campaign_id=campaign.pk)
    assert first.won and second.reason == Reason.BUSY
    assert services.campaign_shake(user=make_user(), campaign_id=campaign.pk).won


def test_too_many_shakes_in_flight_is_busy_at_once(settings, make_user, make_campaign):
    settings.SHAKE_MAX_IN_FLIGHT = 2
    campaign = make_campaign()
    store = campaign_store()
    for token in ("stuck-1", "stuck-2"):  # two shakes of workers that are still busy
        assert store.enter(campaign_id=campaign.pk, user_id=0, token=token, limit=2, interval_ms=0)[
            0
        ]
    assert services.campaign_shake(user=make_user(), campaign_id=campaign.pk).reason == Reason.BUSY
    store.leave("stuck-1")
    assert services.campaign_shake(user=make_user(), campaign_id=campaign.pk).won
    assert store.in_flight() == 1


# --- The database is the truth ----------------------------------------------------------


def test_a_failed_win_transaction_gives_the_reservation_back(monkeypatch, make_user, make_campaign):
    campaign = make_campaign(count=5)
    user = make_user()
    services.campaign_shake(user=user, campaign_id=campaign.pk)  # warms the state
    before = campaign_store().peek(campaign.pk)

    def broken(*args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(Win.objects, "create", broken)
    with pytest.raises(DatabaseError):
        services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    after = campaign_store().peek(campaign.pk)
    assert (after.left, after.budget_fen) == (before.left, before.budget_fen)
    assert Win.objects.count() == 1
    assert_invariants()


def test_a_store_that_lies_about_the_budget_never_overpays(make_user, make_campaign):
    # ¥10 for 2 packets of ¥2–8: after a first win of ¥8 only ¥2 is left.
    campaign = make_campaign(budget_fen=1_000, count=2, tiers=[TierRange(1_000_000, 200, 800)])
    first = services.campaign_shake(user=make_user(), campaign_id=campaign.pk, rng=Rolls(0, 600))
    assert first.amount_fen == 800
    store = campaign_store()
    store.forget(campaign.pk)  # then a state rebuilt from a wrong read: lots of money, 5 left
    store.build(
        campaign.pk,
        left=5,
        budget_fen=1_000_000,
        count=2,
        closed=False,
        user_wins={},
        expire_at_ms=facts.expire_at_ms(campaign),
        epoch="lie",
    )
    second = services.campaign_shake(user=make_user(), campaign_id=campaign.pk, rng=Rolls(0, 600))
    assert second.won and second.amount_fen == 200  # the database's own budget decided
    third = services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    assert third.reason == Reason.SOLD_OUT  # the database's count decided
    campaign.refresh_from_db()
    assert (campaign.spent_fen, campaign.won_count) == (1_000, 2)
    assert_invariants()


def test_a_missing_state_is_rebuilt_from_the_database(make_user, make_campaign):
    campaign = make_campaign(count=3, per_user_cap=1)
    user = make_user()
    assert services.campaign_shake(user=user, campaign_id=campaign.pk).won
    campaign_store().forget(campaign.pk)
    again = services.campaign_shake(user=user, campaign_id=campaign.pk)
    assert again.reason == Reason.LIMIT_REACHED
    state = campaign_store().peek(campaign.pk)
    assert state.left == 2
    assert_invariants()
