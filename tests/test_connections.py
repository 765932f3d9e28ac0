"""Bounded PostgreSQL connections under the ASGI server (issue #16 finding 9,
ARCHITECTURE "Connections").

daphne alone serves the whole app (pages, API, websockets: the design card's server) in
its own process, against the test database, with the pool as configured for
production. 200 clients at once read and write through the API; no answer may be a 5xx,
and the connections the server holds (pg_stat_activity, by the application name it
connects with) never exceed the documented bound: DB_POOL_MAX_SIZE for one process.
Before the pool, each request's thread kept its own connection (CONN_MAX_AGE=60) and
the server ran PostgreSQL out of connections. Redis is pooled the same way: with
redis-py's plain pool, 200 requests at once failed with "Too many connections" (500).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 200
POOL_MAX_SIZE = 8  # the bound under test: one daphne process × DB_POOL_MAX_SIZE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(application_name: str) -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return (
        f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
        f"?application_name={application_name}"
    )


class PeakConnections:
    """Samples pg_stat_activity every few milliseconds on a connection of its own."""

    def __init__(self, application_name: str) -> None:
        db = connection.settings_dict
        self.conninfo = dict(
            dbname=db["NAME"],
            user=db.get("USER") or "postgres",
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
            autocommit=True,
        )
        self.application_name = application_name
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(**self.conninfo) as conn:
            while not self._stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = %s",
                    [self.application_name],
                ).fetchone()
                assert row is not None  # count(*) answers one row
                (count,) = row
                self.peak = max(self.peak, count)
                self.samples += 1
                time.sleep(0.005)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def daphne_server():
    """daphne serving redpacket.asgi on a free port, in its own process."""
    application_name = f"rp-daphne-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "redpacket.settings",
        # Development mode: the same built-in SECRET_KEY as this test process, so the
        # tokens issued here (bound to it) are valid there.
        "DEBUG": "1",
        "DATABASE_URL": _database_url(application_name),
        "DB_POOL_MAX_SIZE": str(POOL_MAX_SIZE),
        "DB_POOL_TIMEOUT": "30",
        # Fewer Redis connections than clients too: requests wait for one, never fail.
        "REDIS_POOL_MAX_SIZE": "20",
        "THROTTLE_MONEY": "100000/min",
        "THROTTLE_CHAT": "100000/min",
        "THROTTLE_AUTH": "100000/min",
        "LOG_LEVEL": "WARNING",
    }
    for name in ("CONN_MAX_AGE", "DJANGO_ALLOW_ASYNC_UNSAFE", "PASSWORD_HASHERS"):
        env.pop(name, None)
    log = open(ROOT / "artifacts" / "daphne-connections.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "redpacket.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"daphne exited: {(ROOT / 'artifacts' / 'daphne-connections.log').read_text()}"
            )
        try:
            httpx.get(f"{base_url}/api/me", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield base_url, application_name
    process.terminate()
    process.wait(timeout=20)
    log.close()


async def _client(http: httpx.AsyncClient, token: str, room_id: int) -> list[int]:
    headers = {"Authorization": f"Token {token}"}
    statuses = []
    for method, path, body in (
        ("GET", "/api/wallet", None),
        ("GET", "/api/rooms", None),
        ("POST", f"/api/rooms/{room_id}/messages", {"text": "hello"}),
        ("GET", f"/api/rooms/{room_id}/messages", None),
    ):
        response = await http.request(method, path, headers=headers, json=body)
        statuses.append(response.status_code)
    return statuses


async def _crowd(base_url: str, tokens: list[str], room_id: int) -> list[int]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
        results = await asyncio.gather(*(_client(http, token, room_id) for token in tokens))
    return [status for statuses in results for status in statuses]


def test_200_clients_against_daphne_stay_within_the_pool(make_user, daphne_server):
    from chat import selectors as chat_selectors
    from chat import services as chat_services
    from chat.models import Membership
    from redpacket.accounts.models import User
    from redpacket.accounts.services import tokens_issue

    base_url, application_name = daphne_server
    (ROOT / "artifacts").mkdir(exist_ok=True)
    owner = make_user()
    users = User.objects.bulk_create(
        [User(username=f"pool{i}", display_name=f"池{i}", password="x") for i in range(CLIENTS)]
    )
    room = chat_services.room_create_group(creator=owner, name="连接池", member_ids=[])
    Membership.objects.bulk_create([Membership(room=room, user=user) for user in users])
    chat_selectors.room_members_cache_refresh(room.pk)  # what the services do on commit
    tokens = list(tokens_issue(users=users).values())

    started = time.monotonic()
    # The clients run in a thread of their own: a Playwright test of the same session may
    # have left an event loop in the main thread.
    with PeakConnections(application_name) as monitor, ThreadPoolExecutor(1) as runner:
        statuses = runner.submit(asyncio.run, _crowd(base_url, tokens, room.pk)).result()
    elapsed = time.monotonic() - started

    print(
        f"\n{len(statuses)} requests from {CLIENTS} clients in {elapsed:.1f}s; "
        f"peak PostgreSQL connections of the daphne process: {monitor.peak} "
        f"(bound {POOL_MAX_SIZE}, {monitor.samples} samples)"
    )
    assert len(statuses) == CLIENTS * 4
    assert not [status for status in statuses if status >= 500]
    assert set(statuses) <= {200, 201}
    assert monitor.samples > 10
    assert 1 <= monitor.peak <= POOL_MAX_SIZE
    assert settings.USING_POSTGRES
