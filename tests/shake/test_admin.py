"""Campaigns in admin: created (and paid for) through the service with validated tiers,
start/end actions through the services, the live budget view, wins read-only."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from shake.models import Campaign, Win
from tests.invariants import assert_invariants
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, make_user):
    user = make_user(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def sponsor(sponsor, mark_sponsor):
    """Campaigns added here are paid by a marked sponsor account."""
    return mark_sponsor(sponsor)


def _add_form(sponsor, tiers, **changes):
    now = timezone.localtime()
    data = {
        "name": "后台活动",
        "sponsor": sponsor.pk,
        "greeting": "",
        "budget_fen": 100_000,
        "count": 100,
        "min_share_fen": 200,
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": (now - timedelta(minutes=1)).strftime("%H:%M:%S"),
        "ends_at_0": (now + timedelta(days=1)).strftime("%Y-%m-%d"),
        "ends_at_1": now.strftime("%H:%M:%S"),
        "per_user_cap": 1,
        "win_chance_ppm": 1_000_000,
        "tiers-TOTAL_FORMS": len(tiers),
        "tiers-INITIAL_FORMS": 0,
        "tiers-MIN_NUM_FORMS": 0,
        "tiers-MAX_NUM_FORMS": 1000,
    }
    for i, (ppm, low, high) in enumerate(tiers):
        data |= {
            f"tiers-{i}-probability_ppm": ppm,
            f"tiers-{i}-min_fen": low,
            f"tiers-{i}-max_fen": high,
        }
    return data | changes


def test_adding_a_campaign_pays_for_it_through_the_service(operator, sponsor):
    before = balance_of(sponsor)
    tiers = [(900_000, 200, 500), (100_000, 500, 1_000)]
    response = operator.post("/admin/shake/campaign/add/", _add_form(sponsor, tiers))
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.budget_fen == 100_000 and campaign.tiers.count() == 2
    assert balance_of(sponsor) == before - 100_000
    assert_invariants()


def test_tiers_must_sum_to_100_percent(operator, sponsor):
    before = balance_of(sponsor)
    tiers = [(900_000, 200, 500), (50_000, 500, 1_000)]
    response = operator.post("/admin/shake/campaign/add/", _add_form(sponsor, tiers))
    assert response.status_code == 200
    assert "各档概率之和必须为100%" in response.content.decode()
    assert not Campaign.objects.exists() and balance_of(sponsor) == before


def test_a_sponsor_who_cannot_pay_is_a_form_error(operator, make_user, mark_sponsor):
    poor = mark_sponsor(make_user())
    response = operator.post("/admin/shake/campaign/add/", _add_form(poor, [(1_000_000, 200, 500)]))
    assert response.status_code == 200
    assert "零钱余额不足" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_change_list_and_page_show_spent_against_reserved(operator, make_campaign, make_user):
    from shake import services

    campaign = make_campaign()
    services.campaign_shake(user=make_user(), campaign_id=campaign.pk)
    listing = operator.get("/admin/shake/campaign/").content.decode()
    assert "已预留" in listing and "已发放" in listing
    page = operator.get(f"/admin/shake/campaign/{campaign.pk}/change/").content.decode()
    assert "（Redis）" in page and "（数据库）" in page
    assert operator.get("/admin/shake/win/").status_code == 200
    win = Win.objects.get()
    assert operator.get(f"/admin/shake/win/{win.pk}/change/").status_code == 200


def test_start_and_end_actions_go_through_the_services(operator, make_campaign, sponsor):
    now = timezone.now()
    campaign = make_campaign(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    operator.post(
        "/admin/shake/campaign/",
        {"action": "start_now", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    before = balance_of(sponsor)
    operator.post(
        "/admin/shake/campaign/",
        {"action": "end_now", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.ENDED
    assert balance_of(sponsor) == before + campaign.budget_fen
    # Both actions are in the admin log, and the refund names its operator.
    from django.contrib.admin.models import LogEntry

    from wallet.models import LedgerTransaction

    logged = LogEntry.objects.filter(object_id=str(campaign.pk)).order_by("pk")
    assert [entry.user.is_superuser for entry in logged] == [True, True]
    refund = LedgerTransaction.objects.get(reference=f"campaign:{campaign.pk}:refund")
    assert refund.actor == logged[1].user
    assert_invariants()


def test_editing_terms_keeps_the_money_fields(operator, make_campaign):
    campaign = make_campaign()
    page = operator.get(f"/admin/shake/campaign/{campaign.pk}/change/").content.decode()
    assert 'name="budget_fen"' not in page and 'name="name"' in page


def test_an_unmarked_users_change_is_refused_as_a_form_error(operator, make_user, fund):
    ordinary = make_user()
    fund(ordinary, 200_000)
    response = operator.post(
        "/admin/shake/campaign/add/", _add_form(ordinary, [(1_000_000, 200, 500)])
    )
    assert response.status_code == 200
    assert "赞助方" in response.content.decode()
    assert not Campaign.objects.exists() and balance_of(ordinary) == 200_000


def test_staff_without_the_campaign_permission_cannot_run_money_actions(
    client, make_user, make_campaign
):
    campaign = make_campaign()
    viewer = make_user(is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(
        Permission.objects.get(content_type__app_label="shake", codename="view_campaign")
    )
    client.force_login(viewer)
    response = client.post(
        "/admin/shake/campaign/",
        {"action": "end_now", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status != Campaign.Status.ENDED
    assert response.status_code in (200, 302)


def test_an_admin_edit_never_overwrites_a_win_committed_meanwhile(
    client, make_user, monkeypatch, make_campaign
):
    from django.db.models import F
    from django.utils import timezone

    from shake.admin import CampaignForm

    campaign = make_campaign(budget_fen=100_000, count=100)
    operator = make_user(is_staff=True, is_superuser=True)
    client.force_login(operator)
    real_clean = CampaignForm.clean

    def clean_then_a_win_lands(form):
        data = real_clean(form)
        # A win committed between the admin's read of the row and its save.
        Campaign.objects.filter(pk=campaign.pk).update(
            spent_fen=F("spent_fen") + 500, won_count=F("won_count") + 1
        )
        return data

    monkeypatch.setattr(CampaignForm, "clean", clean_then_a_win_lands)
    ends = timezone.localtime(campaign.ends_at)
    starts = timezone.localtime(campaign.starts_at)
    tiers = list(campaign.tiers.order_by("pk"))
    form = {
        "name": "改过名字",
        "greeting": campaign.greeting,
        "starts_at_0": starts.strftime("%Y-%m-%d"),
        "starts_at_1": starts.strftime("%H:%M:%S"),
        "ends_at_0": ends.strftime("%Y-%m-%d"),
        "ends_at_1": ends.strftime("%H:%M:%S"),
        "per_user_cap": 2,
        "win_chance_ppm": 1_000_000,
        "tiers-TOTAL_FORMS": len(tiers),
        "tiers-INITIAL_FORMS": len(tiers),
        "tiers-MIN_NUM_FORMS": 0,
        "tiers-MAX_NUM_FORMS": 1000,
    }
    for i, tier in enumerate(tiers):
        form |= {
            f"tiers-{i}-id": tier.pk,
            f"tiers-{i}-campaign": campaign.pk,
            f"tiers-{i}-probability_ppm": tier.probability_ppm,
            f"tiers-{i}-min_fen": tier.min_fen,
            f"tiers-{i}-max_fen": tier.max_fen,
        }
    response = client.post(f"/admin/shake/campaign/{campaign.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign.refresh_from_db()
    assert campaign.name == "改过名字" and campaign.per_user_cap == 2
    assert (campaign.spent_fen, campaign.won_count) == (500, 1)


def test_the_edit_service_refuses_money_and_counters(make_campaign):
    from shake import services as shake_services

    campaign = make_campaign()
    for field in ("budget_fen", "spent_fen", "won_count", "sponsor", "status"):
        with pytest.raises(ValueError), transaction.atomic():
            shake_services.campaign_edit(campaign_id=campaign.pk, terms={field: 1})
