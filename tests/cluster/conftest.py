"""One `make cluster` topology for the whole session (deploy/cluster.py), on ports of its
own (CLUSTER_TEST_BASE_PORT, default 7131; nginx on base+29) and a database of its own
(`test_<database>_cluster`, made fresh, dropped at the end), so that a `make cluster`
running beside it is not disturbed. CLUSTER_URL points the black-box subset at a cluster
started elsewhere instead (`make cluster`); the drills always start their own: they kill
its processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.cluster import Cluster, cluster_missing, psql_value
from deploy.stack import stack_environment

ROOT = Path(__file__).resolve().parent.parent.parent
RUN_DIR = ROOT / "artifacts" / "cluster-test"
DRILLS = ROOT / "artifacts" / "cluster-drills.json"
READ_YOUR_WRITES_SECONDS = 2
# What the test process's own environment sets for the test settings, not for the cluster.
_NOT_INHERITED = (
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "RABBITMQ_URL", "DEBUG",
    "DJANGO_SETTINGS_MODULE", "DB_POOL_MAX_SIZE", "CONN_MAX_AGE", "DJANGO_ALLOW_ASYNC_UNSAFE",
    "CELERY_TASK_ALWAYS_EAGER", "SECRET_KEY", "ALLOCATION_SECRET", "PIN_PEPPER",
)  # fmt: skip


def _primary_url() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/postgres"


def _database_name(name: str) -> str:
    """`test_<name>_cluster`: never `make cluster`'s own database (`redpacket_cluster`)."""
    base = name.removeprefix("test_")
    return f"test_{base}_cluster"


@pytest.fixture(scope="session")
def cluster():
    from django.conf import settings

    if not settings.USING_POSTGRES:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (the cluster's primary)")
    reason = cluster_missing()
    if reason:
        pytest.skip(reason)
    base = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    base.update(
        {
            # Production settings, as make cluster runs them; limits lifted for the crowd
            # the drills make through the API (one address registers and opens for all).
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "redpacket.settings",
            "THROTTLE_AUTH": "100000/min",
            "THROTTLE_MONEY": "100000/min",
            "THROTTLE_OPEN": "100000/min",
            "THROTTLE_CHAT": "100000/min",
            # The registrations of the crowd: a fast hasher (tests only, like tests/settings.py).
            "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            "CREDIT_SWEEP_EVERY_SECONDS": "5",
            # Short, so the replica drill's reader is past it within the drill.
            "REPLICA_READ_YOUR_WRITES_SECONDS": str(READ_YOUR_WRITES_SECONDS),
        }
    )
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    base_port = int(os.environ.get("CLUSTER_TEST_BASE_PORT", "7131"))
    instance = Cluster(
        env=stack_environment(base, secrets_dir=RUN_DIR),
        primary_url=_primary_url(),
        database=_database_name(settings.DATABASES["default"]["NAME"]),
        port=base_port + 29,
        base_port=base_port,
        run_dir=RUN_DIR,
        fresh_database=True,
        log=False,
    )
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        with contextlib.suppress(Exception):
            psql_value(
                instance.primary_url,
                f'DROP DATABASE IF EXISTS "{instance.database}" WITH (FORCE)',
                dbname="postgres",
            )
        shutil.rmtree(RUN_DIR / "replica", ignore_errors=True)  # a copy of the whole server


@pytest.fixture(scope="session")
def cluster_url(request) -> str:
    url = os.environ.get("CLUSTER_URL")
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("cluster").url


@pytest.fixture
def api(cluster_url):
    from tests.cluster.client import Api

    client = Api(cluster_url)
    yield client
    client.close()


def pending_credits(cluster: Cluster) -> int:
    return int(
        psql_value(
            cluster.primary_db_url,
            "SELECT count(*) FROM redpacket_claim WHERE credit_status = 'pending'",
        )
    )


def wait_drained(cluster: Cluster, timeout: float = 60) -> float:
    """Wait until every claim is credited (the outbox is empty); the seconds it took."""
    started = time.monotonic()
    while pending_credits(cluster):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{pending_credits(cluster)} credits still pending after {timeout}s")
        time.sleep(0.2)
    return time.monotonic() - started


def assert_cluster_invariants(cluster: Cluster) -> None:
    """tests/invariants.py's assert_invariants() (SPEC §8) on the cluster's database, read
    on the primary directly, in a process of its own (this one's Django is on the test
    database) with the cluster's secrets (shares are re-derived from ALLOCATION_SECRET)."""
    wait_drained(cluster)
    env = {k: v for k, v in cluster.env.items() if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": cluster.primary_db_url,
            "REDIS_URL": "",
            "DB_POOL_MAX_SIZE": "0",
        }
    )
    env.pop("REDIS_CLUSTER", None)
    code = (
        "import django; django.setup()\n"
        "from tests.invariants import assert_invariants\n"
        "assert_invariants()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="session")
def drill_log():
    """Each drill's record (what was killed, what users saw, time to recover), written to
    artifacts/cluster-drills.json at the end (docs/capacity.md "Failure drills")."""
    records: list[dict] = []
    yield records
    if records:
        DRILLS.parent.mkdir(parents=True, exist_ok=True)
        DRILLS.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
