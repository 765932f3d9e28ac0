"""docs/capacity.md's capacity model, from the measurements: `python -m bench.capacity`.

Reads bench/results/cluster.json (`python -m bench --cluster`: CPU per node around every
load), or the file named first, with the WAL figures from a second file if one is named
(a run whose `nodes` carry pg_waldump's figures), and prints the per-operation costs
per tier and the node counts for the targets, with the arithmetic, as the Markdown that
docs/capacity.md quotes (which also sets them beside `python -m bench.machine`'s limits).

The arithmetic, one line per tier: cores = rate × CPU-ms per operation / 1000;
nodes = ⌈cores × HEADROOM / cores per node⌉. HEADROOM = 2: every tier runs at half its
CPU at the target rate, so that a burst above it or the loss of a node (or a zone)
does not tip it over.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from bench.context import RESULTS

HEADROOM = 2.0
WEB_NODE_CORES = 16  # vCPU of one web node (gunicorn sync workers, 2 per core)
WORKER_NODE_CORES = 16
REDIS_MASTER_CORES = 1  # Redis runs its commands on one thread
PRIMARY_CORES = 32  # one PostgreSQL primary
PRIMARY_WAL_MB_S = 100  # sustained WAL one primary ships to its replicas and archive
# Every spread-open request takes a share (a hot open is mostly 409s once a packet is gone).
OPEN_LOADS = ("spread open",)
TARGETS = [
    ("1,000 opens/s", 1_000, 0),
    ("80,000 opens/s", 80_000, 0),
    ("760,000 opens/s (WeChat, 2017's eve)", 760_000, 0),
    ("200,000 credits/s (Tenpay's prepared)", 0, 200_000),
]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def costs(cluster: dict[str, Any], wal_run: dict[str, Any] | None = None) -> dict[str, float]:
    """CPU-ms per operation per tier, averaged over the loads that measure it; WAL bytes
    per operation of the benchmark's own database from `wal_run` (a run whose `nodes`
    carry pg_waldump's figures) or else from `cluster`."""
    nodes = cluster["nodes"]
    wal_nodes = (wal_run or cluster)["nodes"]

    def tier(labels: tuple[str, ...], *names: str) -> float:
        return _mean(
            [
                sum(nodes[label]["tier_cpu_ms_per_request"].get(name, 0.0) for name in names)
                for label in labels
                if label in nodes
            ]
        )

    def wal(labels: tuple[str, ...]) -> float:
        return _mean(
            [
                wal_nodes[x]["wal"]["bytes"] / wal_nodes[x]["requests"]
                for x in labels
                if (wal_nodes.get(x) or {}).get("wal") and wal_nodes[x]["requests"]
            ]
        )

    return {
        # An open as a user does it: the grab check (GET) and the open (POST).
        "grab_web": tier(("grab check",), "web", "front"),
        "grab_redis": tier(("grab check",), "redis"),
        "open_web": tier(OPEN_LOADS, "web", "front"),
        "open_redis": tier(OPEN_LOADS, "redis", "channels"),
        "open_pg": tier(OPEN_LOADS, "postgres", "pgbouncer"),
        "open_worker": tier(OPEN_LOADS, "worker"),  # credits in small batches, as they come
        "open_wal": wal(OPEN_LOADS),
        "credit_worker": tier(("crediting drain",), "worker"),
        "credit_pg": tier(("crediting drain",), "postgres", "pgbouncer"),
        "credit_wal": wal(("crediting drain",)),
        "floor_web": tier(("floor",), "web", "front"),
        "send_web": tier(("send",), "web", "front"),
        "send_pg": tier(("send",), "postgres", "pgbouncer"),
    }


def _nodes(cores: float, per_node: float) -> int:
    return max(1, math.ceil(cores * HEADROOM / per_node)) if cores else 0


def plan(c: dict[str, float], opens: float, credits: float) -> dict[str, Any]:
    """Cores and nodes per tier for `opens` opens/s or `credits` credits/s (each open is
    also a credit later; workers are sized on the drain's cost per credit, since at these
    rates the outbox is deep and every batch full)."""
    web_ms = c["grab_web"] + c["open_web"]
    redis_ms = c["grab_redis"] + c["open_redis"]
    credits = credits or opens
    web = opens * web_ms / 1000
    redis = opens * redis_ms / 1000
    worker = credits * c["credit_worker"] / 1000
    # An open's PostgreSQL figures were measured with its crediting running alongside
    # (the workers' batches go through the same pgbouncer), so they include it.
    pg = (opens * c["open_pg"] if opens else credits * c["credit_pg"]) / 1000
    wal_mb = (opens * c["open_wal"] if opens else credits * c["credit_wal"]) / 1e6
    primaries_cpu = _nodes(pg, PRIMARY_CORES)
    primaries_wal = math.ceil(wal_mb * HEADROOM / PRIMARY_WAL_MB_S) if wal_mb else 0
    return {
        "web_cores": web,
        "web_nodes": _nodes(web, WEB_NODE_CORES),
        "redis_cores": redis,
        "redis_masters": _nodes(redis, REDIS_MASTER_CORES),
        "worker_cores": worker,
        "worker_nodes": _nodes(worker, WORKER_NODE_CORES),
        "pg_cores": pg,
        "wal_mb_s": wal_mb,
        "primaries": max(primaries_cpu, primaries_wal),
        "primaries_cpu": primaries_cpu,
        "primaries_wal": primaries_wal,
    }


def markdown(c: dict[str, float]) -> str:
    lines = [
        "| target | web (16 vCPU) | Redis masters | workers (16 vCPU) | PostgreSQL primaries |",
        "|---|---|---|---|---|",
    ]
    web_ms = c["grab_web"] + c["open_web"]
    redis_ms = c["grab_redis"] + c["open_redis"]
    for label, opens, credits in TARGETS:
        p = plan(c, opens, credits)
        credit_rate = credits or opens
        web_cell = (
            f"{opens:,} × {web_ms:.2f} ms = {p['web_cores']:,.0f} cores → **{p['web_nodes']:,}**"
        )
        redis_cell = (
            f"{opens:,} × {redis_ms:.2f} ms = {p['redis_cores']:,.1f} cores"
            f" → **{p['redis_masters']:,}**"
        )
        worker_cell = (
            f"{credit_rate:,} × {c['credit_worker']:.2f} ms = {p['worker_cores']:,.1f} cores"
            f" → **{p['worker_nodes']:,}**"
        )
        pg_cell = (
            f"{p['pg_cores']:,.1f} cores → {p['primaries_cpu']:,} by CPU; "
            f"{p['wal_mb_s']:,.0f} MB/s WAL → {p['primaries_wal']:,} by WAL:"
            f" **{p['primaries']:,}**"
        )
        if not opens:  # crediting alone: no web or Redis work
            web_cell = redis_cell = "—"
        lines.append(f"| {label} | {web_cell} | {redis_cell} | {worker_cell} | {pg_cell} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cluster = json.loads(Path(args[0] if args else RESULTS / "cluster.json").read_text())
    wal_run = json.loads(Path(args[1]).read_text()) if len(args) > 1 else None
    c = costs(cluster, wal_run)
    print("CPU-ms (WAL: bytes) per operation:")
    for name, value in c.items():
        print(f"  {name:<14} {value:,.3f}")
    print()
    print(markdown(c))
    return 0


if __name__ == "__main__":
    sys.exit(main())
