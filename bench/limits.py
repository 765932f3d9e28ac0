"""The machine's raw limits, measured in the same run as the scenarios.

Timings here move by tens of percent from run to run (the machine is shared), so each
scenario's rate is also reported as a fraction of what Redis and PostgreSQL alone manage
on this machine at the same moment: redis-benchmark running the gate's admit script, and
pgbench running a transaction shaped like an open (one-row UPDATE plus an INSERT).
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

from bench import env as bench_env
from bench.context import Context


def measure(ctx: Context) -> dict[str, Any]:
    """Both limits, as the report's `limits`."""
    return {"redis_admit": redis_limit(ctx), "postgres_update_insert": postgres_limit(ctx)}


def redis_limit(ctx: Context) -> dict[str, Any]:
    """redis-benchmark running the gate's admit script (EVALSHA), on the bench's Redis db."""
    from redpacket.packets.gate import _ADMIT

    host, port = ctx.target.redis_host_port
    client = bench_env.redis_client(ctx.target)
    sha = client.script_load(_ADMIT)
    client.set("rp:{bench}:left", 10**9)
    requests = 200_000 if not ctx.quick else 20_000
    completed = subprocess.run(
        [
            "redis-benchmark", "-h", host, "-p", str(port), "--dbnum", str(ctx.target.redis_db),
            "-n", str(requests), "-c", "50", "-r", "1000000", "-q",
            "EVALSHA", sha, "2", "rp:{bench}:left", "rp:{bench}:who", "__rand_int__",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    client.delete("rp:{bench}:left", "rp:{bench}:who")
    match = re.search(r"([\d.]+) requests per second(?:, p50=([\d.]+) msec)?", completed.stdout)
    if not match:
        raise RuntimeError(f"redis-benchmark said: {completed.stdout}{completed.stderr}")
    return {
        "ops_per_s": float(match.group(1)),
        "p50_ms": float(match.group(2)) if match.group(2) else None,
        "clients": 50,
    }


PGBENCH_SCRIPT = """\\set aid random(1, 1000)
BEGIN;
UPDATE bench_pg_account SET balance = balance + 1 WHERE id = :aid;
INSERT INTO bench_pg_history (account_id, delta) VALUES (:aid, 1);
END;
"""


def postgres_limit(ctx: Context) -> dict[str, Any]:
    """pgbench: a one-row UPDATE plus an INSERT per transaction (an open's shape)."""
    target = ctx.target
    bench_env.psql(
        target,
        "DROP TABLE IF EXISTS bench_pg_account, bench_pg_history;"
        "CREATE TABLE bench_pg_account (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0);"
        "INSERT INTO bench_pg_account SELECT g FROM generate_series(1, 1000) g;"
        "CREATE TABLE bench_pg_history (id bigserial PRIMARY KEY, account_id int, delta int,"
        " at timestamptz DEFAULT now());",
        database=target.database,
    )
    script = ctx.workdir / "pgbench.sql"
    script.write_text(PGBENCH_SCRIPT)
    host, port, user = target.pg_host_port_user
    seconds = max(3, round(ctx.sizes.seconds / 2))
    completed = subprocess.run(
        [
            "pgbench", "-h", host, "-p", str(port), "-U", user, "-n", "-f", str(script),
            "-c", "8", "-j", "2", "-T", str(seconds), target.database,
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    bench_env.psql(
        target, "DROP TABLE bench_pg_account, bench_pg_history", database=target.database
    )
    tps = re.search(r"tps = ([\d.]+)", completed.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", completed.stdout)
    if not tps:
        raise RuntimeError(f"pgbench said: {completed.stdout}{completed.stderr}")
    return {
        "tps": float(tps.group(1)),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": 8,
        "seconds": seconds,
    }
