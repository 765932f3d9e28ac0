"""Opens racing through the real HTTP stack (a threaded live server: one thread and one
database connection per request) on PostgreSQL and Redis; SPEC §8 after each."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from redpacket.packets import services
from redpacket.packets.models import Claim, Packet
from tests.concurrency import run_parallel
from tests.invariants import assert_invariants
from wallet.selectors import balance_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CLIENT_THREADS = 64  # PostgreSQL allows 100 connections; the gate keeps most requests off it


@pytest.fixture
def crowd(make_user, fund, live_server):
    """A group room of `n` members besides the sender; every member's token is warm."""
    from django.contrib.auth.hashers import make_password

    from chat import services as chat_services
    from redpacket.accounts.models import User
    from redpacket.accounts.services import tokens_issue

    def make(n):
        sender = make_user()
        fund(sender, 200_000)
        password = make_password("pw-for-tests-1")
        members = User.objects.bulk_create(
            [User(username=f"crowd{i}", display_name=f"抢{i}", password=password) for i in range(n)]
        )
        room = chat_services.room_create_group(
            creator=sender, name="抢红包", member_ids=[m.pk for m in members]
        )
        tokens = tokens_issue(users=members)

        def warm(token):  # the auth cache, as after each member's first request
            httpx.get(f"{live_server.url}/api/me", headers={"Authorization": f"Token {token}"})

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(warm, tokens.values()))
        return room, sender, members, tokens

    return make


def _open(base_url: str, token: str, packet_id: int) -> tuple[int, dict]:
    response = httpx.post(
        f"{base_url}/api/packets/{packet_id}/open",
        headers={"Authorization": f"Token {token}"},
        timeout=60,
    )
    return response.status_code, response.json()


def _race(live_server, tokens: list[str], packet_id: int, during=None) -> list[tuple[int, dict]]:
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        futures = [pool.submit(_open, live_server.url, token, packet_id) for token in tokens]
        if during is not None:
            during()
        return [future.result() for future in futures]


def _check_ten_shares(packet, results, members):
    outcomes = Counter(status for status, _ in results)
    assert outcomes == {200: 10, 409: len(members) - 10}, outcomes
    assert all(body["code"] == "finished" for status, body in results if status == 409)
    claims = list(Claim.objects.filter(packet=packet))
    assert len(claims) == 10 and len({claim.user_id for claim in claims}) == 10
    assert sum(claim.amount_fen for claim in claims) == packet.total_fen
    assert sorted(body["amount_fen"] for status, body in results if status == 200) == sorted(
        c.amount_fen for c in claims
    )
    packet.refresh_from_db()
    assert (packet.status, packet.remaining_count, packet.remaining_fen) == ("finished", 0, 0)
    assert_invariants()


def test_two_hundred_users_race_for_a_ten_share_packet(crowd, send, live_server):
    room, sender, members, tokens = crowd(200)
    packet = send(sender, room, count=10, total_fen=10_000)
    results = _race(live_server, [tokens[m.pk] for m in members], packet.pk)
    _check_ten_shares(packet, results, members)


def test_redis_flushed_in_the_middle_of_the_race(crowd, send, live_server):
    from django_redis import get_redis_connection

    room, sender, members, tokens = crowd(200)
    packet = send(sender, room, count=10, total_fen=10_000)

    def flush_midway():
        # Let the first requests through the gate, then lose every key (gate, facts,
        # cached tokens and memberships): the rest must rebuild from the database.
        deadline = timezone.now() + timedelta(seconds=10)
        while Claim.objects.filter(packet=packet).count() < 3 and timezone.now() < deadline:
            pass
        get_redis_connection("default").flushdb()

    results = _race(live_server, [tokens[m.pk] for m in members], packet.pk, during=flush_midway)
    _check_ten_shares(packet, results, members)


def test_one_user_firing_thirty_concurrent_opens_gets_one_share(crowd, send, live_server):
    room, sender, members, tokens = crowd(3)
    packet = send(sender, room, count=3, total_fen=900)
    results = _race(live_server, [tokens[members[0].pk]] * 30, packet.pk)
    assert {status for status, _ in results} == {200}
    amounts = {body["amount_fen"] for _, body in results}
    assert len(amounts) == 1
    assert sum(1 for _, body in results if body["repeat"] is False) == 1
    assert Claim.objects.filter(packet=packet).count() == 1
    assert_invariants()


def test_two_sweeps_at_once_refund_once(group, send, settings):
    room, users = group(3)
    packets = [send(users[0], room, count=3, total_fen=900) for _ in range(5)]
    services.packet_open(user=users[1], packet_id=packets[0].pk)
    Packet.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    before = balance_of(users[0])
    done = run_parallel(lambda: services.packets_expire_due(), [()] * 4)
    assert sum(done) == 5, done
    refunded = sum(p.refunded_fen for p in Packet.objects.all())
    assert balance_of(users[0]) == before + refunded
    assert Packet.objects.filter(status="expired").count() == 5
    assert_invariants()
