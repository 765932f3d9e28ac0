"""The demo data set behind `manage.py seed_demo`: one place that every capability extends."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from redpacket.accounts.models import User

DEMO_PASSWORD = "hongbao-demo-1"
ADMIN_PASSWORD = "hongbao-admin-1"
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


@transaction.atomic
def seed() -> SeedReport:
    report = SeedReport()
    _ensure_user("admin", "运营 Admin", ADMIN_PASSWORD, staff=True)
    report.logins.append(("admin", ADMIN_PASSWORD, "staff (admin at /admin/)"))
    for username, display_name in DEMO_USERS:
        _ensure_user(username, display_name, DEMO_PASSWORD)
        report.logins.append((username, DEMO_PASSWORD, "user"))
    return report
