"""Where the benchmark runs: its own PostgreSQL database and Redis database, never the
ones the project's tests or other engineers use, the services and tools it needs there,
and the settings every process gets."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from deploy.stack import stack_environment

# Never touched by the benchmark, whatever the environment says.
FORBIDDEN_DATABASES = {"redpacket", "redpacket_shake", "postgres", "template0", "template1"}
FORBIDDEN_REDIS_DBS = {1, 2, 3, 4}


@dataclass(frozen=True)
class Target:
    postgres_url: str  # the server, without a database name
    database: str
    redis_url: str

    @property
    def database_url(self) -> str:
        return f"{self.postgres_url.rstrip('/')}/{self.database}"

    @property
    def redis_db(self) -> int:
        path = urlsplit(self.redis_url).path.strip("/")
        return int(path or 0)

    @property
    def redis_host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.redis_url)
        return parts.hostname or "127.0.0.1", parts.port or 6379

    @property
    def pg_host_port_user(self) -> tuple[str, int, str]:
        parts = urlsplit(self.postgres_url)
        return parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres"


def target_from_environment(*, cluster: bool = False) -> Target:
    """BENCH_POSTGRES_URL (server), BENCH_DATABASE (default redpacket_bench, or
    redpacket_bench_cluster with `cluster`) and BENCH_REDIS_URL (default db 5 on the local
    Redis; the cluster brings its own); refuses the shared ones."""
    server = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
    parts = urlsplit(server)
    server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    target = Target(
        postgres_url=server,
        database=os.environ.get(
            "BENCH_DATABASE", "redpacket_bench_cluster" if cluster else "redpacket_bench"
        ),
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5"),
    )
    if target.database in FORBIDDEN_DATABASES or target.database.startswith("test_"):
        raise SystemExit(f"refusing to benchmark on database {target.database!r}: it is shared")
    if target.redis_db in FORBIDDEN_REDIS_DBS:
        raise SystemExit(f"refusing Redis db {target.redis_db}: dbs 1-4 belong to the test suites")
    return target


def check_services(target: Target) -> None:
    """PostgreSQL and Redis must already be running; the benchmark starts neither."""
    import redis

    host, port, _user = target.pg_host_port_user
    if subprocess.run(["pg_isready", "-q", "-h", host, "-p", str(port)], check=False).returncode:
        raise SystemExit(f"PostgreSQL is not running on {host}:{port}")
    rhost, rport = target.redis_host_port
    try:
        redis.Redis(host=rhost, port=rport).ping()
    except redis.RedisError as error:
        raise SystemExit(f"Redis is not running on {rhost}:{rport}: {error}") from error
    for tool in ("nginx", "wrk", "redis-benchmark", "pgbench"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(
                f"{tool} is missing: apt-get install nginx wrk redis-tools postgresql-client"
            )


def redis_client(target: Target) -> Any:
    """A client of the benchmark's own Redis db."""
    import redis

    host, port = target.redis_host_port
    return redis.Redis(host=host, port=port, db=target.redis_db)


def process_environment(target: Target, **extra: str) -> dict[str, str]:
    """The environment of the stack's processes and of the benchmark's own Django."""
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER"}
    }
    base.update(
        {
            "DATABASE_URL": target.database_url,
            "REDIS_URL": target.redis_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # The limits are per user and generous here: the benchmark measures the work,
            # not the throttle's refusals (the throttles still run on every request).
            "THROTTLE_OPEN": "100000/min",
            "THROTTLE_MONEY": "100000/min",
            "THROTTLE_CHAT": "100000/min",
            "THROTTLE_AUTH": "100000/min",
            # Every seeded sender binds a card with the same sandbox phone number.
            "SMS_SENDS_PER_USER": "100000/hour",
            "SMS_SENDS_PER_PHONE": "100000/hour",
            "CHAT_GROUP_MAX_MEMBERS": "5000",
            "CREDIT_SWEEP_AFTER_SECONDS": "600",
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
            "ALLOCATION_SECRET": "bench-only-allocation-secret-not-for-production-0123",
            "PIN_PEPPER": "bench-only-pin-pepper-not-for-production-0123456789ab",
        }
    )
    base.update(extra)
    return stack_environment(base)


def psql(target: Target, sql: str, *, database: str = "postgres") -> str:
    host, port, user = target.pg_host_port_user
    completed = subprocess.run(
        ["psql", "-h", host, "-p", str(port), "-U", user, "-d", database, "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


def recreate_database(target: Target) -> None:
    psql(target, f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    psql(target, f'CREATE DATABASE "{target.database}"')


def setup_django(target: Target, **extra: str) -> None:
    """Configure this process's Django on the benchmark's database and Redis."""
    os.environ.update(process_environment(target, **extra))
    os.environ["DJANGO_SETTINGS_MODULE"] = "redpacket.settings"
    import django

    django.setup()
