import random
import uuid
from datetime import timedelta

import pytest
from hypothesis import strategies as st

from shake.draw import PPM, TierRange
from tests.wallet.conftest import bind_card, fund  # noqa: F401 - fixtures shared with wallet tests


@pytest.fixture(autouse=True)
def _shake_settings(settings):
    """A fresh in-process store per test (Redis is flushed by the cache fixture), and no
    pacing or per-user interval unless a test asks for them."""
    from shake.store import campaign_store

    campaign_store().clear()
    settings.SHAKE_BURST = 1_000_000
    settings.SHAKE_USER_INTERVAL_MS = 0
    settings.SHAKE_MAX_IN_FLIGHT = 200
    yield
    campaign_store().clear()


def grant_campaign_permission(user):
    """Django's campaign permission (staff status alone creates nothing)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="shake", codename="add_campaign")
    )
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def make_operator(make_user):
    """A staff user holding the campaign permission."""

    def make(**extra):
        return grant_campaign_permission(make_user(**extra))

    return make


@pytest.fixture
def mark_sponsor(make_user):
    """Mark a user as a sponsor account (what ops do in admin)."""
    from shake.models import SponsorAccount

    def mark(user):
        SponsorAccount.objects.create(user=user, marked_by=make_user(is_staff=True))
        return user

    return mark


@pytest.fixture
def sponsor(make_operator, fund):  # noqa: F811
    """An operator with the campaign permission and ¥10,000 of change."""
    user = make_operator()
    fund(user, 1_000_000)
    return user


@pytest.fixture
def make_campaign(sponsor):
    """Create a campaign through the service: running since an hour ago, ending in five
    minutes, sponsored (and paid) by `sponsor` unless told otherwise."""
    from django.utils import timezone

    from shake import services

    def make(*, budget_fen=100_000, count=100, starts_at=None, ends_at=None, **terms):
        now = timezone.now()
        return services.campaign_create(
            created_by=terms.pop("created_by", sponsor),
            request_key=terms.pop("request_key", str(uuid.uuid4())),
            name=terms.pop("name", "新春摇一摇"),
            budget_fen=budget_fen,
            count=count,
            starts_at=starts_at or now - timedelta(hours=1),
            ends_at=ends_at or now + timedelta(minutes=5),
            **terms,
        )

    return make


class Seeded:
    """A reproducible (not secure) random source for property tests."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def randbelow(self, n):
        return self.rng.randrange(n)


# Tier tables for property tests: weights, not yet ppm (see `normalised`).
tier_tables = st.lists(
    st.tuples(st.integers(1, 100), st.integers(200, 5_000), st.integers(0, 5_000)),
    min_size=1,
    max_size=5,
).map(lambda rows: [TierRange(weight, low, low + extra) for weight, low, extra in rows])


def normalised(tiers: list[TierRange]) -> list[TierRange]:
    """Scale weights to ppm summing to exactly 1,000,000."""
    total = sum(t.probability_ppm for t in tiers)
    scaled = [max(1, t.probability_ppm * PPM // total) for t in tiers]
    scaled[0] += PPM - sum(scaled)
    return [TierRange(p, t.min_fen, t.max_fen) for p, t in zip(scaled, tiers, strict=True)]


class Rolls:
    """A random source that answers from a list (then zeros): forces the draw."""

    def __init__(self, *values):
        self.values = list(values)

    def randbelow(self, n):
        value = self.values.pop(0) if self.values else 0
        assert 0 <= value < n, (value, n)
        return value


@pytest.fixture
def credit_pending():
    """Credit every pending win through the service (what the worker does when tasks are
    not eager); returns how many this credited."""
    from shake import services
    from shake.models import Win

    def run():
        pending = Win.objects.filter(credit_status=Win.CreditStatus.PENDING)
        return sum(services.win_credit(win_id=pk) for pk in pending.values_list("pk", flat=True))

    return run
