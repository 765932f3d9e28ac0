"""The shake services after the shaking: ending and refunding, crediting wins, the
remaining count, the audit (the rest is in test_services.py). SPEC §8 after each."""

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from shake import errors, selectors, services
from shake.audit import campaign_findings
from shake.models import Campaign, Win
from tests.invariants import assert_invariants
from wallet.models import LedgerTransaction
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db


# --- End, credit, remaining -------------------------------------------------------------


def test_the_sweep_ends_campaigns_past_their_end_and_refunds_once(
    sponsor, make_user, make_campaign
):
    campaign = make_campaign(budget_fen=100_000, count=10)
    win = services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    before = balance_of(sponsor)
    Campaign.objects.filter(pk=campaign.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert services.campaigns_end_due() == 1
    assert services.campaigns_end_due() == 0
    campaign.refresh_from_db()
    assert campaign.end_reason == Campaign.EndReason.TIME
    assert campaign.refunded_fen == 100_000 - win.amount_fen
    assert balance_of(sponsor) == before + campaign.refunded_fen
    assert (
        LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.CAMPAIGN_REFUND).count() == 1
    )
    assert_invariants()


def test_the_end_campaigns_command_starts_and_ends(make_campaign, capsys):
    now = timezone.now()
    due = make_campaign()
    soon = make_campaign(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    Campaign.objects.filter(pk=due.pk).update(ends_at=now - timedelta(seconds=1))
    Campaign.objects.filter(pk=soon.pk).update(starts_at=now - timedelta(seconds=1))
    call_command("end_campaigns")
    assert "Started 1, ended and refunded 1" in capsys.readouterr().out
    assert Campaign.objects.get(pk=due.pk).status == Campaign.Status.ENDED
    assert Campaign.objects.get(pk=soon.pk).status == Campaign.Status.RUNNING
    assert_invariants()


def test_an_operator_can_start_early_and_end_early(make_user, make_campaign):
    now = timezone.now()
    campaign = make_campaign(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    assert services.campaign_start(campaign_id=campaign.pk)
    assert services.campaign_shake(user=make_user(), campaign_id=campaign.pk).won
    assert services.campaign_end(campaign_id=campaign.pk, force=True)
    campaign.refresh_from_db()
    assert campaign.end_reason == Campaign.EndReason.OPERATOR
    with pytest.raises(errors.CampaignOver):
        services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    assert_invariants()


@pytest.mark.django_db(transaction=True)  # after-commit effects
def test_a_win_is_credited_exactly_once(make_user, make_campaign):
    campaign = make_campaign()
    user = make_user()
    result = services.campaign_shake(user=user, campaign_id=campaign.pk)
    services.win_credit(win_id=result.win_id)  # eager mode credited it already
    assert not services.win_credit(win_id=result.win_id)
    assert balance_of(user) == result.amount_fen
    assert LedgerTransaction.objects.filter(reference=f"win:{result.win_id}").count() == 1
    assert_invariants()


def test_wins_pending_lists_wins_waiting_too_long(make_user, make_campaign):
    campaign = make_campaign()
    result = services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    Win.objects.filter(pk=result.win_id).update(credit_status="pending", credited_at=None)
    assert list(services.wins_pending(timedelta(minutes=5))) == []
    Win.objects.filter(pk=result.win_id).update(created_at=timezone.now() - timedelta(minutes=6))
    assert [w.pk for w in services.wins_pending(timedelta(minutes=5))] == [result.win_id]


def test_the_credit_sweeper_queues_stale_wins_as_it_does_claims(settings, make_user, make_campaign):
    from wallet.tasks import credit_sweep

    settings.CREDIT_SWEEP_AFTER_SECONDS = 300
    campaign = make_campaign()
    result = services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    Win.objects.filter(pk=result.win_id).update(
        credit_status="pending", created_at=timezone.now() - timedelta(minutes=6)
    )
    assert credit_sweep() == 1


@pytest.mark.django_db(transaction=True)  # after-commit effects
def test_the_remaining_count_is_refreshed_by_steps(settings, make_user, make_campaign):
    settings.SHAKE_REMAINING_STEP_PERCENT = 5  # 5 of 100 packets
    campaign = make_campaign(count=100)
    assert selectors.campaign_remaining(campaign_id=campaign.pk).remaining == 100
    for _ in range(4):
        services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    assert selectors.campaign_remaining(campaign_id=campaign.pk).remaining == 100  # cached
    services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    shown = selectors.campaign_remaining(campaign_id=campaign.pk)
    assert shown.remaining == 95
    assert shown.as_of <= timezone.now()


def test_the_audit_finds_a_campaign_whose_counters_were_tampered_with(make_user, make_campaign):
    campaign = make_campaign()
    services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    assert campaign_findings() == []
    Campaign.objects.filter(pk=campaign.pk).update(spent_fen=F("spent_fen") + 1)
    kinds = {finding.kind for finding in campaign_findings()}
    assert {"campaign_counters", "campaign_escrow"} <= kinds


def test_the_demo_seed_adds_one_running_campaign_sponsored_by_admin():
    from redpacket import demo

    demo.seed()
    demo.seed()
    campaign = Campaign.objects.get()
    assert campaign.sponsor.username == "admin"
    assert (campaign.budget_fen, campaign.count) == (200_000, 300)
    assert selectors.campaign_status(campaign) == Campaign.Status.RUNNING
    assert_invariants()


def test_campaign_requests_are_idempotent_per_creator(sponsor, make_campaign):
    key = str(uuid.uuid4())
    first = make_campaign(request_key=key, budget_fen=70_000, count=10)
    second = make_campaign(request_key=key, budget_fen=99_999, count=99)
    assert first.pk == second.pk
    assert Campaign.objects.count() == 1


def test_a_credit_tells_the_winner_after_commit(
    monkeypatch, make_user, make_campaign, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        "redpacket.kernel.events._send_now", lambda group, event: sent.append((group, event))
    )
    campaign = make_campaign()
    user = make_user()
    result = services.campaign_shake(user=user, campaign_id=campaign.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.win_credit(win_id=result.win_id)
    assert sent == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert (
        f"user.{user.pk}",
        {
            "type": "wallet.credited",
            "amount_fen": result.amount_fen,
            "balance_fen": result.amount_fen,
            "source": "shake",
            "win_id": result.win_id,
        },
    ) in sent
