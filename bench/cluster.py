"""The benchmark against the multi-node topology: `python -m bench --cluster`.

deploy/cluster.py's `Cluster` (3-master Redis Cluster, two channel-layer Redis, pgbouncer
in transaction mode, a streaming replica, two web nodes and two daphnes behind nginx, two
Celery workers and beat) dressed as the single stack the scenarios know (`url`, `pids`,
`stop_worker` / `start_worker` / `wait_worker_ready`), on a database of the benchmark's
own (BENCH_DATABASE, default `redpacket_bench_cluster`), its ports from CLUSTER_BASE_PORT
(nginx on a free port). The benchmark's own Django seeds through the primary directly and
warms the Redis Cluster, as `packet_send` would after commit.

`NodeSampler` attributes the work: around every load it reads the CPU time of each
node's process tree (psutil) and of the primary's backends serving the benchmark's
database (pgbouncer's server connections, found in pg_stat_activity), so the report has
CPU-ms per request per node and per tier (bench/results/cluster.json, `nodes`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from bench import env as bench_env
from bench.context import process_tree

# Which tier each process belongs to (the capacity model's rows): the cluster's names,
# then the single stack's (`web`, `daphne-1`, `worker`; its Redis is the machine's
# `redis-server`).
TIERS = {
    "web": ("web1", "web2", "web"),
    "ws": ("daphne1", "daphne2", "daphne-"),
    "front": ("nginx",),
    "worker": ("worker1", "worker2", "worker", "beat"),
    "redis": ("redis-",),
    "channels": ("channels-",),
    "pgbouncer": ("pgbouncer",),
    "replica": ("replica",),
    "postgres": ("postgres-primary",),
}
APPLICATION = ("nginx", "web1", "web2", "daphne1", "daphne2", "worker1", "worker2", "beat")


def tier_of(name: str) -> str:
    for tier, prefixes in TIERS.items():
        if any(name == p or (p.endswith("-") and name.startswith(p)) for p in prefixes):
            return tier
    return "other"


class ClusterStack:
    """A `Cluster` with the single stack's interface."""

    def __init__(self, *, target: bench_env.Target, run_dir: Path, port: int) -> None:
        from deploy.cluster import Cluster

        base_port = int(os.environ.get("CLUSTER_BASE_PORT", "7101"))
        self.cluster = Cluster(
            env=bench_env.process_environment(target),
            primary_url=target.postgres_url,
            database=target.database,
            port=port,
            base_port=base_port,
            run_dir=run_dir,
            fresh_database=True,
            replica_wait=30,
            log=False,
        )
        self.web_workers = self.cluster.web_workers * 2
        self.web_label = f"gunicorn, {self.cluster.web_workers} sync workers on each of 2 web nodes"
        self.asgi_processes = 2  # one daphne per node
        self.worker_concurrency = self.cluster.worker_concurrency * 2

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def run_dir(self) -> Path:
        return self.cluster.run_dir

    def start(self) -> ClusterStack:
        self.cluster.start()
        return self

    def stop(self) -> None:
        self.cluster.stop()

    def pids(self) -> dict[str, int]:
        """The application's processes (memory rounds, profiling)."""
        return {n: p for n, p in self.cluster.pids().items() if n in APPLICATION}

    def all_pids(self) -> dict[str, int]:
        return self.cluster.pids()

    # The scenarios' names for the groups of processes they profile.
    server_names = ("web1", "web2", "worker1", "worker2")

    def stop_worker(self) -> None:
        for name in ("worker1", "worker2"):
            self.cluster.stop_one(name)

    def start_worker(self) -> None:
        for index in range(2):
            self.cluster.start_worker(index)

    def wait_worker_ready(self, timeout: float = 90) -> None:
        from deploy.cluster import wait_until

        for index in range(2):
            wait_until(
                lambda index=index: self.cluster.worker_ready(index),
                timeout=timeout,
                what="worker ready",
            )

    def redis_target(self, target: bench_env.Target) -> bench_env.Target:
        """`target` pointing at the Redis Cluster node that holds `{bench}` (where the
        machine-limit script's keys live): any node is a start node for the client."""
        port = self.cluster.redis_node_of("rp:{bench}:left")
        return dataclasses.replace(target, redis_url=f"redis://127.0.0.1:{port}/0")

    def django_environment(self) -> dict[str, str]:
        """What the benchmark's own Django needs on top of the target's: the Redis
        Cluster, the channel layer's shards and the cluster's broker (crediting's wake-up)."""
        c = self.cluster
        return {
            "REDIS_CLUSTER": "1",
            "CHANNEL_REDIS_URLS": ",".join(f"redis://127.0.0.1:{p}" for p in c.channel_ports),
            "CELERY_BROKER_URL": c.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
        }

    def topology(self) -> dict[str, str]:
        c = self.cluster
        return {
            "front": "nginx (1 worker), two upstreams each for / and /ws/",
            "wsgi": f"2 web nodes × gunicorn {c.web_workers} sync workers",
            "asgi": "2 × daphne (/ws/)",
            "worker": f"2 × celery prefork, concurrency {c.worker_concurrency} each, + beat",
            "redis": "Redis Cluster, 3 masters, no replicas; 2 plain Redis for the channel layer",
            "postgres": "pgbouncer (transaction pooling) → the machine's PostgreSQL; "
            "a streaming replica for history reads",
        }


class NodeSampler:
    """CPU seconds per node (process tree) and per tier, between two snapshots."""

    def __init__(self, stack: ClusterStack, database: str, primary_url: str) -> None:
        self.stack = stack
        self.database = database
        self.primary_url = primary_url
        self._oid: int | None = None

    def database_oid(self) -> int | None:
        from deploy.cluster import psql_value

        if self._oid is None:
            with contextlib.suppress(Exception):
                self._oid = int(
                    psql_value(
                        self.primary_url,
                        f"SELECT oid FROM pg_database WHERE datname = '{self.database}'",
                        dbname="postgres",
                    )
                )
        return self._oid

    def _backend_pids(self) -> list[int]:
        from deploy.cluster import psql_rows

        with contextlib.suppress(Exception):
            rows = psql_rows(
                self.primary_url,
                f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.database}'",
                dbname="postgres",
            )
            return [int(row[0]) for row in rows]
        return []

    def _groups(self) -> dict[str, list[Any]]:
        """Process trees by name: the stack's own, and for the single stack (whose Redis
        is the machine's) the local redis-server."""
        import psutil

        pids = getattr(self.stack, "all_pids", self.stack.pids)()
        groups = {name: process_tree(pid) for name, pid in pids.items()}
        if not any(tier_of(name) == "redis" for name in groups):
            groups["redis-server"] = [
                p for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"
            ]
        return groups

    def snapshot(self) -> dict[str, Any]:
        import psutil

        per_pid: dict[int, tuple[str, float]] = {}
        groups = self._groups()
        groups["postgres-primary"] = []
        for pid in self._backend_pids():
            with contextlib.suppress(psutil.Error):
                groups["postgres-primary"].append(psutil.Process(pid))
        for name, processes in groups.items():
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    per_pid[process.pid] = (name, times.user + times.system)
        machine = psutil.cpu_times()
        busy = machine.user + machine.system + getattr(machine, "nice", 0) + machine.softirq
        return {
            "pids": per_pid,
            "machine_busy": busy,
            "loadavg": os.getloadavg(),
            "wal_lsn": self._wal_lsn(),
        }

    def _wal_lsn(self) -> int | None:
        """The primary's WAL position in bytes (the whole server's: others write too)."""
        from deploy.cluster import psql_value

        with contextlib.suppress(Exception):
            return int(
                psql_value(
                    self.primary_url,
                    "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn",
                    dbname="postgres",
                )
            )
        return None

    def figures(self, before: dict[str, Any], after: dict[str, Any], requests: int,
                seconds: float) -> dict[str, Any]:  # fmt: skip
        """CPU seconds per node and per tier in the window, CPU-ms per request, and the
        machine's whole busy CPU (everything on it, the load generator and others' work
        included) to set them against."""
        nodes: dict[str, float] = {}
        for pid, (name, cpu) in after["pids"].items():
            start = before["pids"].get(pid, (name, 0.0))[1]
            # A process born in the window counts from zero (its whole CPU is the window's).
            nodes[name] = nodes.get(name, 0.0) + max(0.0, cpu - start)
        tiers: dict[str, float] = {}
        for name, cpu in nodes.items():
            tiers[tier_of(name)] = tiers.get(tier_of(name), 0.0) + cpu
        machine = after["machine_busy"] - before["machine_busy"]
        per_request = {
            tier: round(cpu * 1000 / requests, 3) for tier, cpu in tiers.items() if requests
        }
        wal = (
            after["wal_lsn"] - before["wal_lsn"]
            if after["wal_lsn"] is not None and before["wal_lsn"] is not None
            else None
        )
        ours = None
        oid = self.database_oid()
        if wal is not None and oid is not None:
            ours = database_wal_bytes(before["wal_lsn"], after["wal_lsn"], oid)
        return {
            "requests": requests,
            "server_wal_bytes": wal,
            "wal": ours,
            "wal_bytes_per_request": round(ours["bytes"] / requests) if ours and requests else None,
            "seconds": round(seconds, 2),
            "cpu_s": {name: round(cpu, 2) for name, cpu in sorted(nodes.items())},
            "tier_cpu_s": {tier: round(cpu, 2) for tier, cpu in sorted(tiers.items())},
            "tier_cpu_ms_per_request": per_request,
            "web_node_share": _share(nodes, "web1", "web2"),
            "machine_busy_cpu_s": round(machine, 2),
            "machine_cpu_ms_per_request": round(machine * 1000 / requests, 3) if requests else None,
            "loadavg_before": [round(x, 2) for x in before["loadavg"]],
            "loadavg_after": [round(x, 2) for x in after["loadavg"]],
        }


WAL_RECORD = re.compile(r"len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+).*?(?:rel \d+/(\d+)/|$)")


def database_wal_bytes(start: int, end: int, database_oid: int) -> dict[str, int] | None:
    """The WAL the primary wrote for one database between two positions (pg_waldump on
    the primary's pg_wal: the server is shared, so its whole WAL rate says little): the
    records that touch the database's relations, plus the commit records of their
    transactions. None when pg_waldump or the WAL directory cannot be read."""
    from deploy.cluster import PG_BIN

    data = Path(os.environ.get("PGDATA_PRIMARY", "/var/lib/postgresql/15/main"))
    if not (PG_BIN / "pg_waldump").exists() or not os.access(data / "pg_wal", os.R_OK):
        return None
    completed = subprocess.run(
        [str(PG_BIN / "pg_waldump"), "-p", str(data / "pg_wal"), "-s", _lsn(start),
         "-e", _lsn(end)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    ours: set[str] = set()
    total = fpw = records = 0
    pending: list[tuple[str, int]] = []  # records without a relation (commits), by tx
    for line in completed.stdout.splitlines():
        match = WAL_RECORD.search(line)
        if not match:
            continue
        size, tx, db = int(match.group(1)), match.group(2), match.group(3)
        if db == str(database_oid):
            ours.add(tx)
            total += size
            records += 1
            if " FPW" in line:
                fpw += size
        elif db is None and tx != "0":
            pending.append((tx, size))
    for tx, size in pending:
        if tx in ours:
            total += size
            records += 1
    return {"bytes": total, "records": records, "full_page_bytes": fpw, "transactions": len(ours)}


def _lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def _share(nodes: dict[str, float], *names: str) -> dict[str, float] | None:
    total = sum(nodes.get(n, 0.0) for n in names)
    if not total:
        return None
    return {n: round(nodes.get(n, 0.0) / total, 3) for n in names}
