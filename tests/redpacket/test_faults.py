"""PostgreSQL backends killed (pg_terminate_backend) while opens run through the live
server and a real worker credits: no partial transaction survives, and the system
recovers by itself."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from django.db import connection

from redpacket.accounts.services import token_issue
from redpacket.packets.models import Claim, Packet
from tests.invariants import assert_invariants
from tests.redpacket.conftest import FAST_SWEEP, all_credited
from tests.workers import database_url, wait_until

pytestmark = [
    pytest.mark.celery,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


def _open_until_answered(base_url: str, token: str, packet_id: int) -> list[int]:
    """Open like a client that retries when the service is unavailable."""
    statuses = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            response = httpx.post(
                f"{base_url}/api/packets/{packet_id}/open",
                headers={"Authorization": f"Token {token}"},
                timeout=30,
            )
        except httpx.TransportError:
            statuses.append(0)
            time.sleep(0.05)
            continue
        statuses.append(response.status_code)
        if response.status_code in (200, 409):
            return statuses
        time.sleep(0.1)
    return statuses


def test_backends_killed_during_opens_and_credits(people, send, workers, live_server):
    room, sender, members = people(20)
    tokens = {m.pk: token_issue(user=m).key for m in members}
    packets = [send(sender, room, count=10, total_fen=3_000) for _ in range(10)]
    workers(concurrency=2, beat=True, env=FAST_SWEEP)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]
    stop = threading.Event()
    killed = Counter()

    def killer():
        # Faults for a few seconds while the crowd opens: every 0.2 s, every other backend
        # of the test database (web requests, the worker's) is terminated.
        deadline = time.monotonic() + 4
        with psycopg.connect(
            database_url().replace("postgres://", "postgresql://"), autocommit=True
        ) as conn:
            while not stop.is_set() and time.monotonic() < deadline:
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
                    [own_pid],
                ).fetchall()
                killed["backends"] += sum(1 for (ok,) in rows if ok)
                time.sleep(0.2)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with ThreadPoolExecutor(max_workers=40) as pool:
            runs = list(
                pool.map(
                    lambda job: _open_until_answered(live_server.url, tokens[job[0].pk], job[1].pk),
                    [(member, packet) for packet in packets for member in members],
                )
            )
    finally:
        stop.set()
        thread.join(10)

    statuses = Counter(status for run in runs for status in run)
    print(f"\nbackends terminated: {killed['backends']}; answers seen: {dict(statuses)}")
    assert killed["backends"] > 0
    assert 500 not in statuses  # a lost connection is a 503 to retry, never a 500
    finals = Counter(run[-1] for run in runs)
    assert finals == {200: 100, 409: 100}, finals

    # Whole or absent: every packet adds up, every claim is complete, nothing half-done.
    assert Claim.objects.count() == 100
    assert set(Packet.objects.values_list("status", flat=True)) == {"finished"}
    took = wait_until(all_credited, timeout=120, message="every claim credited after the faults")
    print(f"all credited {took:.1f}s after the faults stopped")
    assert_invariants()

    # Recovered without a restart: a new packet opens at once.
    fresh = send(sender, room, count=1, total_fen=100)
    response = httpx.post(
        f"{live_server.url}/api/packets/{fresh.pk}/open",
        headers={"Authorization": f"Token {tokens[members[0].pk]}"},
    )
    assert response.status_code == 200
