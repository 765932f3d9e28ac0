"""The crediting drain: how fast one Celery worker credits a backlog of claims.

With the worker stopped, a backlog of finished packets' claims is inserted and their
credit tasks queued; then the worker starts and the scenario times it until no claim is
pending. It measures the worker alone, so it waits first for the credits earlier
scenarios left, and profiles (with `--profile crediting`) the worker's pool, not the web
servers.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from bench.context import Context, timer_bar
from bench.invariants import pending_credits, wait_for_credits


def crediting(ctx: Context) -> dict[str, Any]:
    from bench import seed
    from redpacket.packets.tasks import claim_credit
    from wallet.queues import queue_credit

    wait_for_credits(timeout=300)
    ctx.stack.stop_worker()
    count = 100
    backlog = seed.claim_backlog(
        ctx.people, packets=max(1, ctx.sizes.backlog // count), count=count
    )
    ids = [claim_id for claim_id, _ in backlog]
    with timer_bar(ctx.progress, f"queueing {len(backlog)} credits", max(1, len(backlog) // 3000)):
        for claim_id, amount in backlog:
            queue_credit(claim_credit, claim_id, amount, on_commit=False)
    ctx.stack.start_worker()
    ctx.stack.wait_worker_ready()
    started = time.monotonic()
    pool = functools.partial(ctx.child_pids, "worker")
    with ctx.profiling("crediting", min(20, ctx.sizes.seconds), pool):
        pending = len(ids)
        # Every pending claim is the backlog's now (the earlier ones were drained first).
        with timer_bar(ctx.progress, "draining", len(ids) / 300):
            while pending and time.monotonic() - started < 900:
                time.sleep(0.5)
                pending = pending_credits()
        elapsed = time.monotonic() - started
    return {
        "claims": len(ids),
        "seconds": round(elapsed, 2),
        "credits_per_s": round((len(ids) - pending) / elapsed, 1),
        "worker_concurrency": ctx.stack.worker_concurrency,
        "errors": pending,
    }
