"""Campaigns in admin: created (and paid for) through the service with validated tiers,
start/end actions through the services, the live budget view, wins read-only."""

from datetime import timedelta

import pytest
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


def test_a_sponsor_who_cannot_pay_is_a_form_error(operator, make_user):
    poor = make_user()
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
    assert_invariants()


def test_editing_terms_keeps_the_money_fields(operator, make_campaign):
    campaign = make_campaign()
    page = operator.get(f"/admin/shake/campaign/{campaign.pk}/change/").content.decode()
    assert 'name="budget_fen"' not in page and 'name="name"' in page
