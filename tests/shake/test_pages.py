"""The 摇一摇 pages: the list of running campaigns, a campaign's shake page, the tab."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shake import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client, make_user):
    user = make_user()
    client.force_login(user)
    client.user = user
    return client


def test_the_list_shows_running_campaigns_and_the_tab(page_client, make_campaign):
    running = make_campaign(name="春晚摇一摇")
    now = timezone.now()
    make_campaign(
        name="明天的活动", starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2)
    )
    html = page_client.get("/shake/").content.decode()
    assert "春晚摇一摇" in html and "明天的活动" not in html
    assert f'href="/shake/{running.pk}/"' in html
    assert 'href="/shake/" class="tab active"' in html


def test_the_tab_is_on_every_page(page_client):
    html = page_client.get("/wallet/").content.decode()
    assert 'href="/shake/"' in html and "摇一摇" in html


def test_a_campaign_page_has_the_button_and_the_remaining_count(page_client, make_campaign):
    campaign = make_campaign(name="春晚摇一摇", budget_fen=200_000, count=300)
    html = page_client.get(f"/shake/{campaign.pk}/").content.decode()
    assert 'id="shake-button"' in html
    assert 'data-testid="remaining">300<' in html
    assert "js/shake.js" in html


def test_an_ended_campaign_page_says_so(page_client, make_campaign):
    campaign = make_campaign()
    services.campaign_end(campaign_id=campaign.pk, force=True)
    html = page_client.get(f"/shake/{campaign.pk}/").content.decode()
    assert "活动已结束" in html and 'id="shake-button"' not in html


def test_an_unknown_campaign_is_404(page_client):
    assert page_client.get("/shake/999999/").status_code == 404


def test_the_pages_need_a_login(client):
    assert client.get("/shake/").status_code == 302
