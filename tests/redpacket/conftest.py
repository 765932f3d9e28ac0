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
    from redpacket import services

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
