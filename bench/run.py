"""The benchmark of the real stack: `make bench` (full) or `make bench-quick` (CI smoke).

It checks that PostgreSQL and Redis are up (it starts neither), drops and creates its own
database (BENCH_DATABASE, default `redpacket_bench`) and uses its own Redis database
(BENCH_REDIS_URL, default db 5), starts the deployed topology (deploy/stack.py: nginx in
front of granian and two daphnes, one Celery worker and beat) on free ports, seeds through the
services (bulk where a scenario only needs the rows to exist), and drives load from
separate processes: wrk (C, Lua scripts rotating per-user tokens) for HTTP and
bench/fanout.py processes for websockets. Then it lets the worker drain, runs every
SPEC §8 check (`wallet.reconciliation.all_findings()`) and exits non-zero on any
violation or any scenario error. Results: bench/results/latest.json and a table.

This module is the run's order and nothing else: the options, the stack's start and
stop, and each step in turn. The steps live apart: the context every scenario gets
(context.py), the scenarios (scenarios/), the machine's limits (limits.py), the memory
rounds (memory.py), the invariants (invariants.py) and the report (report.py).
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import env as bench_env
from bench import invariants, limits, memory, profile, report
from bench.context import FULL, QUICK, RESULTS, Context
from bench.scenarios import SCENARIOS, Scenario


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the deployed stack.")
    parser.add_argument("--quick", action="store_true", help="small sizes for CI (< 2 min)")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--keep", action="store_true", help="keep the stack's logs and data files")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run against deploy/cluster.py's multi-node topology (CLUSTER_BASE_PORT; "
        "database BENCH_DATABASE, default redpacket_bench_cluster); writes "
        "bench/results/cluster.json with CPU per node",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated load labels (e.g. 'hot open,spread open') to sample with "
        "py-spy; collapsed stacks and a summary go to bench/results/profiles/",
    )
    return parser.parse_args(argv)


def run_scenarios(ctx: Context, selected: list[Scenario]) -> None:
    """Each selected scenario in turn, into `ctx.results`; one that raises is recorded as
    an error and the run goes on (one broken scenario must not hide the others)."""
    for item in selected:
        ctx.progress.set_description(item.name)
        reason = item.skip(ctx)
        if reason:
            ctx.results[item.name] = {"skipped": reason}
            ctx.notes.append(f"{item.name} skipped: {reason}")
        else:
            try:
                ctx.results[item.name] = item.run(ctx)
            except Exception as error:
                traceback.print_exc()
                ctx.results[item.name] = {"errors": 1, "failed": repr(error)}
        ctx.progress.update(1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # A terminated run still stops the stack it started (the `finally` below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.monotonic()
    sizes = QUICK if args.quick else FULL
    target = bench_env.target_from_environment(cluster=args.cluster)
    bench_env.check_services(target)
    workdir = Path(tempfile.mkdtemp(prefix="redpacket-bench-"))
    if args.cluster:
        from bench.cluster import ClusterStack
        from deploy.stack import free_port

        # The cluster drops and creates the database itself and brings its own Redis;
        # PostgreSQL's replica and pgbouncer run as their service user under `workdir`.
        workdir.chmod(0o755)
        stack: Any = ClusterStack(target=target, run_dir=workdir / "cluster", port=free_port())
    else:
        bench_env.recreate_database(target)
        bench_env.redis_client(target).flushdb()
        from deploy.stack import Stack, free_port

        env = bench_env.process_environment(target)
        stack = Stack(env=env, port=free_port(), with_beat=True, run_dir=workdir / "stack")
        bench_env.setup_django(target)

    from tqdm import tqdm

    selected = [s for s in SCENARIOS if not args.only or s.name in args.only.split(",")]
    progress = tqdm(total=len(selected) + 4, desc="bench", unit="step", position=0)
    summary: dict[str, Any] = report.new_report(quick=args.quick, sizes=sizes, stack=stack)
    try:
        progress.set_description("starting the stack")
        stack.start()
        if args.cluster:
            # Seeding goes to the primary directly; the gate and facts to the Redis Cluster.
            target = stack.redis_target(target)
            bench_env.setup_django(target, **stack.django_environment())
            summary["meta"]["topology"] = stack.topology()
        from bench.cluster import NodeSampler

        # Where each load's CPU goes: the stack's processes, the database's backends and
        # Redis (bench/cluster.py); the rest of the machine's is the load generator.
        sampler = NodeSampler(stack, target.database, target.postgres_url)
        progress.update(1)
        progress.set_description("seeding")
        ctx = Context(
            sizes=sizes,
            quick=args.quick,
            target=target,
            stack=stack,
            people=None,
            workdir=workdir,
            progress=progress,
            profile=tuple(label for label in args.profile.split(",") if label),
            sampler=sampler,
        )
        from bench import seed  # Django is set up by now (with --cluster: after the start)

        ctx.people = seed.create_people(
            crowd=sizes.crowd, senders=sizes.senders, tag=str(os.getpid())
        )
        seed.warm_auth(ctx.people.tokens_of(ctx.people.users))
        progress.update(1)
        progress.set_description("machine limits")
        ctx.limits = limits.measure(ctx)
        summary["limits"] = ctx.limits
        progress.update(1)
        run_scenarios(ctx, selected)
        report.add_fractions(ctx.results, ctx.limits, {s.name: s.floor_ratio for s in SCENARIOS})
        summary["scenarios"] = ctx.results
        progress.set_description("memory rounds")
        summary["memory"] = memory.memory_rounds(ctx) if not args.only else None
        summary["memory_after_run_mb"] = memory.server_rss(stack)
        progress.set_description("reconciliation")
        summary["invariants"] = invariants.reconcile()
        summary["nodes"] = ctx.nodes
        progress.update(1)
    finally:
        progress.close()
        stack.stop()
    profile.write_summaries(ctx.profile, ctx.profile_dir)
    summary["targets"] = report.evaluate_targets(summary["scenarios"], summary.get("memory"))
    summary["notes"] = ctx.notes
    summary["meta"]["seconds"] = round(time.monotonic() - started, 1)
    path = report.write(summary, RESULTS, "cluster.json" if args.cluster else "latest.json")
    report.print_table(summary)
    print(f"results: {path}  ({summary['meta']['seconds']} s)")
    exit_code = report.verdict(summary)
    if args.keep:
        print(f"logs and data files kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
