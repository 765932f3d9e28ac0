"""The demo data set behind `manage.py seed_demo`: one place that every capability extends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from django.conf import settings
from django.db import transaction

from redpacket.accounts.models import User

DEMO_PASSWORD = "hongbao-demo-1"
ADMIN_PASSWORD = "hongbao-admin-1"
DEMO_PIN = "123456"
DEMO_CARD = "4111111111111111"
DEMO_CHANGE_FEN = 50_000  # ¥500.00
DEMO_USERS = [
    ("alice", "Alice 爱丽丝"),
    ("bob", "Bob 鲍勃"),
    ("carol", "Carol 卡罗"),
    ("dave", "Dave 大卫"),
]


@dataclass
class SeedReport:
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _ensure_user(username: str, display_name: str, password: str, *, staff: bool = False) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"display_name": display_name, "is_staff": staff, "is_superuser": staff},
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


class DemoRefused(Exception):
    """Demo data (known passwords, a staff login) outside development (SPEC §7)."""


@transaction.atomic
def seed() -> SeedReport:
    """Create the demo data set; refuses outside development mode (DEBUG=1), where its
    published logins would be open doors (issue #16 finding 4)."""
    if not settings.DEVELOPMENT:
        raise DemoRefused(
            "Demo data (with the published demo and admin passwords) is created only in "
            "development mode: DEBUG=1."
        )
    report = SeedReport()
    admin = _ensure_user("admin", "运营 Admin", ADMIN_PASSWORD, staff=True)
    report.logins.append(("admin", ADMIN_PASSWORD, "staff (admin at /admin/)"))
    users = {}
    for username, display_name in DEMO_USERS:
        users[username] = _ensure_user(username, display_name, DEMO_PASSWORD)
        report.logins.append((username, DEMO_PASSWORD, "user"))
    for user in users.values():
        _ensure_wallet(user)
    report.notes.append(
        f"Each demo user has a sandbox card ({DEMO_CARD}), payment PIN {DEMO_PIN} "
        f"and at least ¥{DEMO_CHANGE_FEN // 100} change."
    )
    _seed_chat(users, report)
    _seed_campaign(admin, report)
    return report


def _ensure_wallet(user: User) -> None:
    """A bound sandbox card (with the demo PIN) and a top-up done once per user."""
    from wallet import services
    from wallet.models import BankCard

    card = BankCard.objects.filter(user=user, is_active=True).first()
    if card is None:
        binding, code = services.card_bind_start(
            user=user,
            card_number=DEMO_CARD,
            holder_name=user.name,
            # One number per user: the SMS limits count sends per phone number.
            phone=f"138{user.pk % 10**8:08d}",
            pin=DEMO_PIN,
        )
        card = services.card_bind_verify(user=user, binding_id=str(binding.pk), code=code)
    services.wallet_topup(
        user=user, card=card, amount_fen=DEMO_CHANGE_FEN, request_key=f"demo-topup-{user.pk}"
    )


DEMO_GROUP_NAME = "新年快乐群"


def _seed_chat(users: dict[str, User], report: SeedReport) -> None:
    """A group of all demo users and a direct room alice↔bob, each with a few messages
    when first created (a second run adds nothing)."""
    from chat import services as chat
    from chat.models import Room

    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    group = Room.objects.filter(kind=Room.Kind.GROUP, name=DEMO_GROUP_NAME, owner=alice).first()
    if group is None:
        group = chat.room_create_group(
            creator=alice, name=DEMO_GROUP_NAME, member_ids=[u.pk for u in users.values()]
        )
        for sender, text in [
            (alice, "大家新年快乐！🧧"),
            (bob, "新年快乐，恭喜发财！"),
            (carol, "红包拿来 😄"),
        ]:
            chat.message_create(room=group, sender=sender, kind="text", text=text, publish=False)
    direct, created = chat.room_get_or_create_direct(user=alice, other_user_id=bob.pk)
    if created:
        for sender, text in [(bob, "在吗？"), (alice, "在的，新年好！")]:
            chat.message_create(room=direct, sender=sender, kind="text", text=text, publish=False)
    report.notes.append(f"rooms: {DEMO_GROUP_NAME} (#{group.pk}), alice↔bob (#{direct.pk})")


DEMO_CAMPAIGN_KEY = "demo-campaign"
DEMO_CAMPAIGN_NAME = "新春摇一摇"
DEMO_CAMPAIGN_BUDGET_FEN = 200_000  # ¥2,000
DEMO_CAMPAIGN_COUNT = 300
DEMO_CAMPAIGN_DAYS = 30


def _seed_campaign(admin: User, report: SeedReport) -> None:
    """A running shake campaign sponsored by `admin`, paid from admin's change (topped up
    for it once). Created once: a second run finds it by its request key."""
    from datetime import timedelta

    from django.utils import timezone

    from shake import services as shake
    from shake.models import Campaign
    from wallet import services as wallet
    from wallet.models import BankCard

    _ensure_wallet(admin)
    campaign = Campaign.objects.filter(created_by=admin, request_key=DEMO_CAMPAIGN_KEY).first()
    if campaign is None:
        wallet.wallet_topup(
            user=admin,
            # `_ensure_wallet` bound one.
            card=cast(BankCard, BankCard.objects.filter(user=admin, is_active=True).first()),
            amount_fen=DEMO_CAMPAIGN_BUDGET_FEN,
            request_key="demo-topup-campaign",
        )
        campaign = shake.campaign_create(
            created_by=admin,
            request_key=DEMO_CAMPAIGN_KEY,
            name=DEMO_CAMPAIGN_NAME,
            greeting="新年快乐，摇出好运",
            budget_fen=DEMO_CAMPAIGN_BUDGET_FEN,
            count=DEMO_CAMPAIGN_COUNT,
            ends_at=timezone.now() + timedelta(days=DEMO_CAMPAIGN_DAYS),
        )
    report.notes.append(
        f"shake campaign: {campaign.name} (#{campaign.pk}, sponsored by admin) at /shake/"
    )
