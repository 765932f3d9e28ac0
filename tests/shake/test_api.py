"""The shake API exactly as API.md says: shapes, defaults, and every refusal in the error
shape with nothing changed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shake.models import Campaign, Win
from tests.invariants import assert_invariants
from wallet.models import LedgerTransaction
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db

CAMPAIGN_KEYS = {
    "id",
    "name",
    "sponsor",
    "greeting",
    "budget_fen",
    "count",
    "starts_at",
    "ends_at",
    "status",
}


def _future(minutes=30):
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def staff_client(auth_client, sponsor):
    return auth_client(sponsor)


def _create(client, body, key="key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/shake/campaigns", body, format="json", **headers)


def _snapshot(user):
    return (
        Campaign.objects.count(),
        LedgerTransaction.objects.count(),
        balance_of(user),
    )


def test_create_with_defaults_answers_the_campaign(staff_client, sponsor):
    before = balance_of(sponsor)
    response = _create(
        staff_client,
        {"name": "春节摇一摇", "budget_fen": 100_000, "count": 100, "ends_at": _future()},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == CAMPAIGN_KEYS
    assert body["status"] == "running" and body["greeting"] == "恭喜发财，大吉大利"
    assert body["sponsor"]["id"] == sponsor.pk and body["budget_fen"] == 100_000
    campaign = Campaign.objects.get(pk=body["id"])
    assert (campaign.min_share_fen, campaign.per_user_cap, campaign.win_chance_ppm) == (
        200,
        1,
        1_000_000,
    )
    assert campaign.tiers.count() == 4
    assert balance_of(sponsor) == before - 100_000
    assert_invariants()


def test_create_replays_the_same_request_and_refuses_another_body(staff_client, sponsor):
    body = {"name": "活动", "budget_fen": 100_000, "count": 100, "ends_at": _future()}
    first = _create(staff_client, body)
    again = _create(staff_client, body)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = _create(staff_client, {**body, "count": 99})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_mismatch"
    assert Campaign.objects.count() == 1


def test_create_with_tiers_and_terms(staff_client):
    response = _create(
        staff_client,
        {
            "name": "试试手气",
            "greeting": "好运连连",
            "budget_fen": 10_000,
            "count": 20,
            "ends_at": _future(),
            "starts_at": (timezone.now() + timedelta(minutes=5)).isoformat(),
            "min_share_fen": 300,
            "per_user_cap": 2,
            "win_chance_ppm": 500_000,
            "tiers": [
                {"probability_ppm": 900_000, "min_fen": 300, "max_fen": 400},
                {"probability_ppm": 100_000, "min_fen": 500, "max_fen": 500},
            ],
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "scheduled"
    campaign = Campaign.objects.get()
    assert [(t.probability_ppm, t.min_fen, t.max_fen) for t in campaign.tiers.order_by("pk")] == [
        (900_000, 300, 400),
        (100_000, 500, 500),
    ]
    assert (campaign.min_share_fen, campaign.per_user_cap, campaign.win_chance_ppm) == (
        300,
        2,
        500_000,
    )
    assert_invariants()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tiers": [{"probability_ppm": 500_000, "min_fen": 200, "max_fen": 500}]}, "tiers"),
        ({"tiers": [{"probability_ppm": 1_000_000, "min_fen": 600, "max_fen": 500}]}, "tiers"),
        ({"tiers": [{"probability_ppm": 1_000_000, "min_fen": -5, "max_fen": 500}]}, "tiers"),
        ({"tiers": [{"probability_ppm": 1_000_000, "min_fen": 100, "max_fen": 500}]}, "tiers"),
        ({"budget_fen": 19_999}, "budget_fen"),
        ({"budget_fen": 100.5}, "budget_fen"),
        ({"budget_fen": "100000"}, "budget_fen"),
        ({"budget_fen": True}, "budget_fen"),
        ({"budget_fen": -100}, "budget_fen"),
        ({"count": 0}, "count"),
        ({"ends_at": "yesterday"}, "ends_at"),
        ({"starts_at": "__end__"}, "ends_at"),
        ({"sponsor_id": 987_654}, "sponsor_id"),
        ({"win_chance_ppm": 1_000_001}, "win_chance_ppm"),
    ],
)
def test_bad_input_is_400_with_fields_and_changes_nothing(staff_client, sponsor, changes, field):
    ends_at = _future()
    body = {
        "name": "活动",
        "budget_fen": 100_000,
        "count": 100,
        "ends_at": ends_at,
        "tiers": [{"probability_ppm": 1_000_000, "min_fen": 200, "max_fen": 500}],
    }
    if changes.get("starts_at") == "__end__":
        changes = {"starts_at": (timezone.now() + timedelta(hours=2)).isoformat()}
    body.update(changes)
    before = _snapshot(sponsor)
    response = _create(staff_client, body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert _snapshot(sponsor) == before


def test_a_sponsor_who_cannot_pay_is_422(auth_client, make_operator, fund):
    poor = make_operator()
    fund(poor, 5_000)
    client = auth_client(poor)
    before = _snapshot(poor)
    response = _create(
        client, {"name": "活动", "budget_fen": 100_000, "count": 100, "ends_at": _future()}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_balance"
    assert _snapshot(poor) == before
    assert_invariants()


def test_only_staff_create_campaigns(auth_client, make_user, fund):
    user = make_user()
    fund(user, 200_000)
    before = _snapshot(user)
    response = _create(
        auth_client(user),
        {"name": "活动", "budget_fen": 100_000, "count": 100, "ends_at": _future()},
    )
    assert response.status_code == 403 and response.json()["code"] == "not_allowed"
    assert _snapshot(user) == before


def test_staff_status_alone_creates_no_campaign(auth_client, make_user, fund):
    # Before the fix `is_staff` was enough, with any user's change as the budget.
    victim = make_user()
    fund(victim, 200_000)
    staff = make_user(is_staff=True)
    before = _snapshot(victim)
    response = _create(
        auth_client(staff),
        {
            "name": "活动",
            "budget_fen": 100_000,
            "count": 100,
            "ends_at": _future(),
            "sponsor_id": victim.pk,
        },
    )
    assert response.status_code == 403 and response.json()["code"] == "not_allowed"
    assert _snapshot(victim) == before
    assert_invariants()


def test_an_operator_cannot_spend_an_ordinary_users_change(staff_client, make_user, fund):
    victim = make_user()
    fund(victim, 200_000)
    before = _snapshot(victim)
    response = _create(
        staff_client,
        {
            "name": "活动",
            "budget_fen": 100_000,
            "count": 100,
            "ends_at": _future(),
            "sponsor_id": victim.pk,
        },
    )
    assert response.status_code == 400 and "sponsor_id" in response.json()["fields"]
    assert _snapshot(victim) == before
    assert_invariants()


def test_create_needs_an_idempotency_key(staff_client, sponsor):
    before = _snapshot(sponsor)
    response = _create(
        staff_client,
        {"name": "活动", "budget_fen": 100_000, "count": 100, "ends_at": _future()},
        key=None,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert _snapshot(sponsor) == before


def test_the_list_has_running_campaigns_only(auth_client, make_campaign):
    now = timezone.now()
    running = make_campaign(name="进行中")
    make_campaign(
        name="未开始", starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2)
    )
    ended = make_campaign(name="已结束")
    from shake import services

    services.campaign_end(campaign_id=ended.pk, force=True)
    response = auth_client().get("/api/shake/campaigns")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next"} and body["next"] is None
    assert [c["id"] for c in body["results"]] == [running.pk]
    assert set(body["results"][0]) == CAMPAIGN_KEYS
    assert body["results"][0]["status"] == "running"


def test_shake_answers_won_then_limit_reached(auth_client, make_campaign):
    campaign = make_campaign()
    client = auth_client()
    won = client.post(f"/api/shake/campaigns/{campaign.pk}/shake")
    assert won.status_code == 200
    body = won.json()
    assert set(body) == {"won", "amount_fen", "win_id", "sponsor", "greeting"}
    assert body["won"] is True and isinstance(body["amount_fen"], int)
    assert body["sponsor"]["id"] == campaign.sponsor_id and body["greeting"] == campaign.greeting
    assert Win.objects.filter(pk=body["win_id"], user=client.user).exists()
    again = client.post(f"/api/shake/campaigns/{campaign.pk}/shake")
    assert again.status_code == 200
    assert again.json() == {"won": False, "reason": "limit_reached"}


def test_shake_refusals_are_404_and_410(auth_client, make_campaign):
    from shake import services

    client = auth_client()
    missing = client.post("/api/shake/campaigns/999999/shake")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    campaign = make_campaign()
    services.campaign_end(campaign_id=campaign.pk, force=True)
    over = client.post(f"/api/shake/campaigns/{campaign.pk}/shake")
    assert over.status_code == 410
    assert over.json() == {"code": "campaign_over", "message": "活动已结束"}
    assert not Win.objects.exists()
    now = timezone.now()
    later = make_campaign(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    early = client.post(f"/api/shake/campaigns/{later.pk}/shake")
    assert early.status_code == 410 and early.json()["code"] == "campaign_over"
    assert client.get("/api/shake/campaigns/999999/remaining").status_code == 404


def test_remaining_answers_the_cached_count(auth_client, make_campaign):
    campaign = make_campaign(count=100)
    response = auth_client().get(f"/api/shake/campaigns/{campaign.pk}/remaining")
    assert response.status_code == 200
    assert set(response.json()) == {"remaining", "as_of"}
    assert response.json()["remaining"] == 100


def test_unauthenticated_is_401(api_client, make_campaign):
    campaign = make_campaign()
    assert api_client.post(f"/api/shake/campaigns/{campaign.pk}/shake").status_code == 401
    assert api_client.get("/api/shake/campaigns").status_code == 401


def test_the_schema_describes_the_shake_api(auth_client):
    schema = auth_client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/api/shake/campaigns"])
    assert "post" in paths["/api/shake/campaigns/{campaign_id}/shake"]
    assert "get" in paths["/api/shake/campaigns/{campaign_id}/remaining"]
