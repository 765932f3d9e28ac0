import uuid

import pytest

from tests.wallet.conftest import bind_card, fund  # noqa: F401 - fixtures shared with wallet tests


@pytest.fixture
def group(make_user, fund):  # noqa: F811
    """A group room of `n` members, each with ¥1,000 of change; returns (room, users)."""
    from chat import services as chat_services

    def make(n=5, *, money=100_000):
        users = [make_user() for _ in range(n)]
        for user in users:
            fund(user, money)
        room = chat_services.room_create_group(
            creator=users[0], name="测试群", member_ids=[user.pk for user in users[1:]]
        )
        return room, users

    return make


@pytest.fixture
def direct(make_user, fund):  # noqa: F811
    from chat import services as chat_services

    def make(*, money=100_000):
        a, b = make_user(), make_user()
        fund(a, money)
        fund(b, money)
        room, _ = chat_services.room_get_or_create_direct(user=a, other_user_id=b.pk)
        return room, [a, b]

    return make


@pytest.fixture
def send():
    """Send a packet through the service (PIN of the test cards: 123456)."""
    from redpacket.packets import services

    def send(
        sender,
        room,
        *,
        kind="lucky",
        count=3,
        total_fen=None,
        share_fen=None,
        greeting="",
        pin="123456",
        **extra,
    ):
        if kind == "lucky" and total_fen is None:
            total_fen = 300 * count
        if kind == "normal" and share_fen is None:
            share_fen = 100
        return services.packet_send(
            sender=sender,
            room_id=room.pk,
            kind=kind,
            count=count,
            total_fen=total_fen,
            share_fen=share_fen,
            greeting=greeting,
            pin=pin,
            request_key=extra.pop("request_key", str(uuid.uuid4())),
            **extra,
        )

    return send


# A worker's sweeper (its embedded beat) looks every second for credits pending 2 s.
FAST_SWEEP = {"CREDIT_SWEEP_EVERY_SECONDS": "1", "CREDIT_SWEEP_AFTER_SECONDS": "2"}


def all_credited() -> bool:
    from redpacket.packets.models import Claim

    return not Claim.objects.filter(credit_status="pending").exists()


@pytest.fixture
def workers():
    """Start real Celery workers (`tests.workers.Worker`); all are stopped afterwards."""
    from tests.workers import Worker

    started = []

    def start(**kwargs):
        worker = Worker(**kwargs)
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def people(make_user, fund):  # noqa: F811
    """A group room with a funded sender and `n` other members."""
    from chat import services as chat_services

    def make(n, money=1_000_000):
        sender = make_user()
        fund(sender, money)
        members = [make_user() for _ in range(n)]
        room = chat_services.room_create_group(
            creator=sender, name="入账", member_ids=[m.pk for m in members]
        )
        return room, sender, members

    return make
