"""The capacity model's arithmetic (bench/capacity.py) and the cluster benchmark's
attribution of CPU and WAL (bench/cluster.py): pure functions, no services."""

from __future__ import annotations

import math

from bench import capacity
from bench.cluster import WAL_RECORD, NodeSampler, tier_of

COSTS = {
    "grab_web": 4.0,
    "grab_redis": 0.25,
    "open_web": 7.0,
    "open_redis": 0.75,
    "open_pg": 3.0,
    "open_worker": 3.0,
    "open_wal": 6000.0,
    "credit_worker": 0.25,
    "credit_pg": 0.2,
    "credit_wal": 3000.0,
}


def test_plan_sizes_every_tier_with_the_headroom() -> None:
    plan = capacity.plan(COSTS, 80_000, 0)
    # web: 80,000 × (4 + 7) ms = 880 cores; × 2 headroom / 16 per node = 110 nodes.
    assert plan["web_cores"] == 880
    assert plan["web_nodes"] == 110
    # Redis: 80,000 × 1 ms = 80 cores → 160 one-core masters.
    assert plan["redis_masters"] == 160
    # Workers on the drain's cost: 80,000 × 0.25 ms = 20 cores → ⌈40 / 16⌉ = 3.
    assert plan["worker_nodes"] == 3
    # PostgreSQL: 240 cores → ⌈480 / 32⌉ = 15 by CPU; 480 MB/s WAL → ⌈960 / 100⌉ = 10.
    assert plan["primaries_cpu"] == 15
    assert plan["primaries_wal"] == 10
    assert plan["primaries"] == 15


def test_credits_alone_need_no_web_and_are_sized_on_wal_when_it_binds() -> None:
    plan = capacity.plan(COSTS, 0, 200_000)
    assert plan["web_nodes"] == 0 and plan["redis_masters"] == 0
    assert plan["worker_nodes"] == math.ceil(200_000 * 0.25 / 1000 * 2 / 16)
    assert plan["primaries_cpu"] == 3  # 40 cores × 2 / 32
    assert plan["primaries_wal"] == 12  # 600 MB/s × 2 / 100
    assert plan["primaries"] == 12


def test_costs_read_the_tiers_and_the_database_wal_of_the_loads() -> None:
    def load(requests: int, tiers: dict[str, float], wal: int | None) -> dict:
        return {
            "requests": requests,
            "tier_cpu_ms_per_request": tiers,
            "wal": {"bytes": wal} if wal is not None else None,
        }

    run = {
        "nodes": {
            "grab check": load(100, {"web": 3.5, "front": 0.5, "redis": 0.25}, 0),
            "spread open": load(
                10,
                {
                    "web": 6.5,
                    "front": 0.5,
                    "redis": 0.5,
                    "channels": 0.25,
                    "postgres": 2.5,
                    "pgbouncer": 0.5,
                    "worker": 3.0,
                },
                60_000,
            ),
            "crediting drain": load(1000, {"worker": 0.25, "postgres": 0.2}, 3_000_000),
        }
    }
    costs = capacity.costs(run)
    assert costs["grab_web"] == 4.0
    assert costs["open_web"] == 7.0
    assert costs["open_redis"] == 0.75
    assert costs["open_pg"] == 3.0
    assert costs["open_wal"] == 6000.0
    assert costs["credit_wal"] == 3000.0
    table = capacity.markdown(costs)
    assert "| 80,000 opens/s | 80,000 × 11.00 ms = 880 cores → **110**" in table


def test_wal_records_are_attributed_to_their_database() -> None:
    lines = [
        "rmgr: Heap        len (rec/tot):     54/    54, tx:    1157047, lsn: 0/E5372040, "
        "prev 0/E5371FE8, desc: HOT_UPDATE, blkref #0: rel 1663/451729/2663 blk 8",
        "rmgr: Transaction len (rec/tot):     34/    34, tx:    1157047, lsn: 0/E53720A0, "
        "prev 0/E5372040, desc: COMMIT 2026-12-01",
    ]
    first = WAL_RECORD.search(lines[0])
    commit = WAL_RECORD.search(lines[1])
    assert first is not None and commit is not None
    assert first.groups() == ("54", "1157047", "451729")
    assert commit.groups() == ("34", "1157047", None)


def test_tiers_of_the_cluster_processes() -> None:
    assert tier_of("web1") == "web"
    assert tier_of("redis-7301") == "redis"
    assert tier_of("channels-7304") == "channels"
    assert tier_of("postgres-primary") == "postgres"
    assert tier_of("worker2") == "worker"
    assert tier_of("daphne1") == "ws"
    assert tier_of("something") == "other"


def test_figures_count_cpu_per_node_and_a_process_born_in_the_window() -> None:
    sampler = NodeSampler.__new__(NodeSampler)
    sampler._oid = None
    sampler.database_oid = lambda: None
    before = {
        "pids": {1: ("web1", 10.0), 2: ("web2", 5.0)},
        "machine_busy": 100.0,
        "loadavg": (1.0, 1.0, 1.0),
        "wal_lsn": None,
    }
    after = {
        "pids": {1: ("web1", 11.0), 2: ("web2", 6.0), 3: ("postgres-primary", 0.5)},
        "machine_busy": 104.0,
        "loadavg": (2.0, 1.0, 1.0),
        "wal_lsn": None,
    }
    figures = sampler.figures(before, after, 500, 10.0)
    assert figures["cpu_s"] == {"postgres-primary": 0.5, "web1": 1.0, "web2": 1.0}
    assert figures["tier_cpu_ms_per_request"] == {"web": 4.0, "postgres": 1.0}
    assert figures["web_node_share"] == {"web1": 0.5, "web2": 0.5}
    assert figures["machine_cpu_ms_per_request"] == 8.0
