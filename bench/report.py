"""The run's report: bench/results/latest.json, the table, and the verdict.

Everything the run measured is gathered into one dict whose shape (keys, nesting) other
runs and docs/performance.md are compared against: `meta`, `limits`, `scenarios`,
`memory`, `memory_after_run_mb`, `invariants`, `targets`, `notes`. This module builds the
parts that are derived rather than measured (each rate as a fraction of the floor and of
the machine's limits, the targets of docs/performance.md met or not), writes the file,
prints the table, and says whether the run failed: timings are reported, never asserted;
only scenario errors and broken invariants fail it.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.context import Sizes


def new_report(*, quick: bool, sizes: Sizes, stack: Any) -> dict[str, Any]:
    """The report before anything is measured: what ran, where, at which sizes."""
    return {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": "quick" if quick else "full",
            "sizes": sizes.__dict__,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "topology": {
                "front": "nginx (1 worker)",
                "wsgi": stack.web_label,
                "asgi": f"daphne, {stack.asgi_processes} process(es) (/ws/), least connections",
                "worker": f"celery, prefork, concurrency {stack.worker_concurrency}",
            },
        },
        "scenarios": {},
    }


def add_fractions(
    results: dict[str, Any], limits: dict[str, Any], floor_ratio: dict[str, bool]
) -> None:
    """Each scenario's rate as a fraction of the floor (where `floor_ratio` says it is
    comparable) and of the machine's Redis and PostgreSQL limits, into its results."""
    floor_rps = results.get("floor", {}).get("rps")
    redis_ops = limits["redis_admit"]["ops_per_s"]
    pg_tps = limits["postgres_update_insert"]["tps"]
    for name, data in results.items():
        if data.get("rps") and floor_rps and floor_ratio[name]:
            data["fraction_of_floor"] = round(data["rps"] / floor_rps, 3)
        if data.get("rps"):
            data["fraction_of_redis_admit"] = round(data["rps"] / redis_ops, 3)
            data["fraction_of_postgres_tps"] = round(data["rps"] / pg_tps, 3)


TARGETS = [
    # (description, scenario, how to read the value, comparison, threshold)
    ("grab check ≥ 0.6 × floor", "grab", "fraction_of_floor", ">=", 0.6),
    ("spread open ≥ 0.3 × floor", "spread_open", "fraction_of_floor", ">=", 0.3),
    ("hot open ≥ 0.6 × floor", "hot_open", "fraction_of_floor", ">=", 0.6),
    ("send ≥ 0.25 × floor", "send", "fraction_of_floor", ">=", 0.25),
    ("send with a PIN ≥ 0.2 × floor", "send_pin", "fraction_of_floor", ">=", 0.2),
    ("grab check p99 at 80% of max < 100 ms", "grab", "at_80_percent.latency_ms.p99", "<", 100),
    ("hot open p99 at 80% of max < 100 ms", "hot_open", "at_80_percent.latency_ms.p99", "<", 100),
    ("fan-out to the members p99 < 1 s", "fanout", "last_member_ms.p99", "<", 1000),
    ("crediting ≥ 2,000 credits/s with one worker", "crediting", "credits_per_s", ">=", 2000),
    (
        "growth: hot-open p50 ≤ 1.2 × (large vs small history)",
        "growth_large",
        "p50_vs_small",
        "<=",
        1.2,
    ),
    (
        "growth: hot-open p50 ≤ 1.2 × (10 M claims vs small history)",
        "growth_huge",
        "p50_vs_small",
        "<=",
        1.2,
    ),
]


def _dig(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def evaluate_targets(
    results: dict[str, Any], memory: dict[str, Any] | None
) -> list[dict[str, Any]]:
    rows = []
    for text, name, path, op, threshold in TARGETS:
        value = _dig(results.get(name, {}), path)
        met = (
            None
            if value is None
            else (
                value >= threshold
                if op == ">="
                else value < threshold
                if op == "<"
                else value <= threshold
            )
        )
        rows.append({"target": text, "value": value, "threshold": threshold, "met": met})
    if memory:
        largest = memory["largest_server_mb"]
        rows.append(
            {
                "target": "each server process < 200 MB RSS",
                "value": largest,
                "threshold": 200,
                "met": largest < 200,
            }
        )
        servers = {
            k: v for k, v in memory["growth_mb"].items() if not k.startswith(("worker", "beat"))
        }
        worst = max(servers.values(), default=0)
        rows.append(
            {
                "target": "no RSS growth over repeated runs (worst, MB)",
                "value": worst,
                "threshold": 5,
                "met": worst <= 5,
            }
        )
    errors = sum(int(r.get("errors") or 0) for r in results.values() if isinstance(r, dict))
    rows.append(
        {
            "target": "zero errors in every scenario",
            "value": errors,
            "threshold": 0,
            "met": errors == 0,
        }
    )
    return rows


def write(report: dict[str, Any], results_dir: Path, name: str = "latest.json") -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / name
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return path


def print_table(report: dict[str, Any]) -> None:
    floor_rps = report["scenarios"].get("floor", {}).get("rps")
    print()
    print(
        f"{'scenario':<16}{'req/s':>9}{'× floor':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}  notes"
    )
    print("-" * 96)
    for name, data in report["scenarios"].items():
        if "skipped" in data:
            print(
                f"{name:<16}{'—':>9}{'':>9}{'':>9}{'':>9}{'':>9}{'':>8}  skipped: {data['skipped']}"
            )
            continue
        latency = data.get("latency_ms", {})
        rps = data.get("rps")
        fraction = data.get("fraction_of_floor")
        print(
            f"{name:<16}{rps if rps is not None else '':>9}"
            f"{fraction if fraction is not None else '':>9}"
            f"{latency.get('p50', ''):>9}{latency.get('p95', ''):>9}{latency.get('p99', ''):>9}"
            f"{data.get('errors', 0):>8}  {_note(name, data)}"
        )
    limits = report.get("limits", {})
    if limits:
        print("-" * 96)
        redis_ops = limits.get("redis_admit", {}).get("ops_per_s")
        pg_tps = limits.get("postgres_update_insert", {}).get("tps")
        print(
            f"machine limits: Redis admit script {redis_ops} ops/s; "
            f"PostgreSQL update+insert {pg_tps} tps"
        )
        if floor_rps:
            print(f"floor = {floor_rps} req/s")
    print("-" * 96)
    for row in report["targets"]:
        mark = {True: "met", False: "NOT MET", None: "n/a"}[row["met"]]
        print(f"  [{mark:>7}] {row['target']}: {row['value']}")
    if report.get("memory"):
        print(f"  RSS after the last round (MB): {report['memory']['rounds'][-1]}")
    print(f"  invariants: {report['invariants']['findings_count']} finding(s)")
    print()


def _note(name: str, data: dict[str, Any]) -> str:
    """The table's notes column: what a scenario measures beyond req/s and latency."""
    note = ""
    if "at_80_percent" in data:
        paced = data["at_80_percent"]
        note = f"at {paced['rps']:.0f}/s: p99 {paced['latency_ms']['p99']} ms"
    elif name == "fanout":
        last = data["last_member_ms"]
        note = f"{data['members']} members: last p50 {last['p50']} ms, p99 {last['p99']} ms"
    elif name == "shake":
        note = f"busy {data['busy_rate']:.1%}; answers {data.get('answers', {})}"
    elif name == "crediting":
        note = f"{data['credits_per_s']} credits/s ({data['claims']} claims, {data['seconds']} s)"
    elif name.startswith("growth"):
        note = f"{data['claims_in_database']:,} claims in the database"
        if "p50_vs_small" in data:
            note += f"; p50 × {data['p50_vs_small']} of the small-history run"
        if "partitions" in data:
            note += f"; claims in {data['partitions'].get('redpacket_claim', 0)} partitions"
    return note


def verdict(report: dict[str, Any]) -> int:
    """1, with the reasons on stderr, if an invariant broke or a scenario had errors."""
    exit_code = 0
    errors = next(row for row in report["targets"] if row["target"].startswith("zero errors"))
    if report["invariants"]["findings_count"] or report["invariants"]["pending_credits_left"]:
        print(
            "!!! SPEC §8 INVARIANTS VIOLATED — see 'invariants' in the results !!!", file=sys.stderr
        )
        for finding in report["invariants"]["findings"]:
            print(f"!!!   {finding}", file=sys.stderr)
        exit_code = 1
    if not errors["met"]:
        print(
            f"!!! {errors['value']} ERROR(S) IN THE SCENARIOS — see 'errors' per scenario !!!",
            file=sys.stderr,
        )
        exit_code = 1
    return exit_code
