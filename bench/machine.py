"""The machine's own limits for the capacity model: `python -m bench.machine`.

What docs/capacity.md divides by: what this machine's PostgreSQL and a Redis of its own
do alone, with no application in front. Each figure is short and run one after the
other, with the load average noted before and after (the machine is shared):

- pgbench on a scratch database (`BENCH_MACHINE_DATABASE`, default
  `redpacket_bench_machine`, dropped and created): the built-in select-only (`-S`) and
  simple-update (`-N`) transactions, and a custom script that is the open's one statement
  (redpacket/packets/services/open.py `_TAKE_SQL`: the CTE that takes a share of a packet
  row and inserts the claim) on tables of the same shape, with the claim table's unique
  (packet, user) and (packet, index) indexes;
- redis-benchmark on a redis-server started here on `--redis-port` (default 7390,
  persistence off): GET/SET, and EVALSHA of the gate's admit script
  (redpacket/packets/gate.py `_ADMIT`), each without pipelining and with `-P 16`.

Writes bench/results/machine.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import database_wal_bytes
from bench.context import RESULTS

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# The open's statement (open.py `_TAKE_SQL`) with pgbench variables: a random live
# packet of 100,000, a random user of 10⁹ (a repeat is rare and rolls back as in the app).
OPEN_SCRIPT = """\\set pid random(1, 100000)
\\set uid random(1, 1000000000)
WITH taken AS (
    UPDATE m_packet SET
        remaining_count = remaining_count - 1,
        remaining_fen = remaining_fen - (shares ->> (count - remaining_count)::int)::bigint,
        status = CASE WHEN remaining_count = 1 THEN 'finished' ELSE status END,
        finished_at = CASE WHEN remaining_count = 1 THEN now() ELSE finished_at END
    WHERE id = :pid AND remaining_count > 0 AND status = 'active'
        AND expires_at > now() AND shares IS NOT NULL
        AND (to_user_id IS NULL OR to_user_id = :uid)
    RETURNING id, count - remaining_count - 1 AS share_index,
        (shares ->> (count - remaining_count - 1)::int)::bigint AS amount
)
INSERT INTO m_claim (packet_id, user_id, "index", amount_fen, opened_at, credit_status)
SELECT id, :uid, share_index, amount, now(), 'pending' FROM taken
ON CONFLICT DO NOTHING
RETURNING id, "index", amount_fen;
"""

OPEN_TABLES = """
DROP TABLE IF EXISTS m_claim, m_packet;
CREATE TABLE m_packet (
    id bigint PRIMARY KEY, count int NOT NULL, remaining_count int NOT NULL,
    total_fen bigint NOT NULL, remaining_fen bigint NOT NULL, status varchar(16) NOT NULL,
    to_user_id bigint, expires_at timestamptz NOT NULL, finished_at timestamptz,
    shares jsonb
);
INSERT INTO m_packet
SELECT g, 100, 100, 10000, 10000, 'active', NULL, now() + interval '1 day', NULL,
       (SELECT jsonb_agg(100) FROM generate_series(1, 100))
FROM generate_series(1, 100000) g;
CREATE TABLE m_claim (
    id bigserial PRIMARY KEY, packet_id bigint NOT NULL REFERENCES m_packet (id),
    user_id bigint NOT NULL, "index" int NOT NULL, amount_fen bigint NOT NULL,
    opened_at timestamptz NOT NULL, credit_status varchar(16) NOT NULL,
    UNIQUE (packet_id, user_id), UNIQUE (packet_id, "index")
);
CREATE INDEX m_claim_pending ON m_claim (amount_fen) WHERE credit_status = 'pending';
CREATE INDEX m_claim_user ON m_claim (user_id, opened_at);
"""


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _psql(server: str, database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", server + "/" + database, "-v", "ON_ERROR_STOP=1", "-qtAc", sql],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def _pgbench(server: str, database: str, args: list[str], seconds: int) -> dict[str, Any]:
    before = loadavg()
    completed = subprocess.run(
        ["pgbench", *args, "-c", "8", "-j", "2", "-T", str(seconds), f"{server}/{database}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    tps = re.search(r"tps = ([\d.]+)", completed.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", completed.stdout)
    if not tps:
        raise RuntimeError(f"pgbench said: {completed.stdout}{completed.stderr}")
    return {
        "tps": round(float(tps.group(1)), 1),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": 8,
        "threads": 2,
        "seconds": seconds,
        "loadavg_before": before,
        "loadavg_after": loadavg(),
    }


def postgres_limits(server: str, database: str, seconds: int, workdir: Path) -> dict[str, Any]:
    _psql(server, "postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _psql(server, "postgres", f'CREATE DATABASE "{database}"')
    try:
        subprocess.run(
            ["pgbench", "-i", "-q", "-s", "10", f"{server}/{database}"],
            capture_output=True, check=True,
        )  # fmt: skip
        out: dict[str, Any] = {
            "select_only": _pgbench(server, database, ["-n", "-S"], seconds),
            "simple_update": _pgbench(server, database, ["-n", "-N"], seconds),
        }
        _psql(server, database, OPEN_TABLES)
        _psql(server, database, "VACUUM ANALYZE m_packet")
        script = workdir / "open.sql"
        script.write_text(OPEN_SCRIPT)
        wal_start = _psql(server, database, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        opened = _pgbench(server, database, ["-n", "-f", str(script)], seconds)
        wal_end = _psql(server, database, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        claims = int(_psql(server, database, "SELECT count(*) FROM m_claim"))
        wal_bytes = int(float(wal_end)) - int(float(wal_start))
        oid = int(
            _psql(server, database, f"SELECT oid FROM pg_database WHERE datname = '{database}'")
        )
        ours = database_wal_bytes(int(float(wal_start)), int(float(wal_end)), oid)
        opened.update(
            {
                "claims": claims,
                "server_wal_bytes_per_open": round(wal_bytes / max(claims, 1)),
                "wal": ours,
                "wal_bytes_per_open": round(ours["bytes"] / max(claims, 1)) if ours else None,
                "note": "open.py _TAKE_SQL on a copy of the packet/claim shape "
                "(100,000 live 100-share packets); `wal` is this database's records "
                "(pg_waldump), server_wal_bytes_per_open the whole shared server's",
            }
        )
        out["open_statement"] = opened
        settings = _psql(
            server,
            "postgres",
            "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN "
            "('fsync','synchronous_commit','shared_buffers','max_connections','wal_level')",
        )
        out["server_settings"] = settings
        out["server_version"] = _psql(server, "postgres", "SHOW server_version")
        return out
    finally:
        _psql(server, "postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _redis_benchmark(port: int, args: list[str]) -> dict[str, float]:
    completed = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-q", *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out: dict[str, float] = {}
    for line in completed.stdout.replace("\r", "\n").splitlines():
        match = re.match(r"\s*(\S+).*?:\s*([\d.]+) requests per second", line)
        if match:
            out[match.group(1).rstrip(":").lower()] = float(match.group(2))
    if not out:
        raise RuntimeError(f"redis-benchmark said: {completed.stdout}{completed.stderr}")
    return out


def redis_limits(port: int, workdir: Path) -> dict[str, Any]:
    import redis

    from redpacket.packets.gate import _ADMIT

    server = subprocess.Popen(
        [
            REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "no",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port)
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        sha = client.script_load(_ADMIT)
        client.set("rp:{bench}:left", 10**12)
        admit = [
            "EVALSHA", sha, "2", "rp:{bench}:left", "rp:{bench}:who", "__rand_int__",
        ]  # fmt: skip
        out: dict[str, Any] = {"loadavg_before": loadavg(), "clients": 50, "port": port}
        out["get_set"] = _redis_benchmark(port, ["-n", "200000", "-t", "get,set"])
        out["get_set_p16"] = _redis_benchmark(port, ["-n", "1000000", "-P", "16", "-t", "get,set"])
        out["admit"] = _redis_benchmark(port, ["-n", "200000", "-r", "100000000", *admit])
        out["admit_p16"] = _redis_benchmark(
            port, ["-n", "1000000", "-P", "16", "-r", "100000000", *admit]
        )
        out["server_cpu_s"] = _redis_cpu(client)
        out["loadavg_after"] = loadavg()
        out["version"] = client.info("server")["redis_version"]
        return out
    finally:
        server.terminate()
        server.wait(timeout=10)


def _redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return round(float(info["used_cpu_sys"]) + float(info["used_cpu_user"]), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--redis-port", type=int, default=7390)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
    )
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_MACHINE_DATABASE", "redpacket_bench_machine")
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redpacket.settings")
    os.environ.setdefault("DEBUG", "1")
    workdir = Path(tempfile.mkdtemp(prefix="redpacket-machine-"))
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "loadavg_at_start": loadavg(),
    }
    try:
        report["postgres"] = postgres_limits(
            args.postgres.rstrip("/"), args.database, args.seconds, workdir
        )
        report["redis"] = redis_limits(args.redis_port, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["loadavg_at_end"] = loadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "machine.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
