"""The crediting drain: how fast one Celery worker credits a backlog of claims.

With the worker stopped, a backlog of finished packets' claims is inserted (the outbox:
pending claims are the queue); then the worker starts, one wake-up is sent, and the
scenario times it until no claim is pending. It measures the worker alone, so it waits
first for the credits earlier scenarios left, and profiles (with `--profile crediting`)
the worker's pool, not the web servers.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from bench.context import Context, timer_bar
from bench.invariants import pending_credits, wait_for_credits


def crediting(ctx: Context) -> dict[str, Any]:
    from bench import seed
    from wallet.tasks import credit_drain

    wait_for_credits(timeout=300)
    ctx.stack.stop_worker()
    count = 100
    backlog = seed.claim_backlog(
        ctx.people, packets=max(1, ctx.sizes.backlog // count), count=count
    )
    ids = [claim_id for claim_id, _ in backlog]
    ctx.stack.start_worker()
    ctx.stack.wait_worker_ready()
    before = ctx.sampler.snapshot() if ctx.sampler else None
    started = time.monotonic()
    credit_drain.apply_async()  # what the first open of a burst sends
    pool = functools.partial(ctx.child_pids, "worker")
    with ctx.profiling("crediting", min(20, ctx.sizes.seconds), pool):
        pending = len(ids)
        # Every pending claim is the backlog's now (the earlier ones were drained first).
        with timer_bar(ctx.progress, "draining", len(ids) / 300):
            while pending and time.monotonic() - started < 900:
                time.sleep(0.5)
                pending = pending_credits()
        elapsed = time.monotonic() - started
    if ctx.sampler:  # --cluster: CPU per node of the drain, per credit
        ctx.nodes["crediting drain"] = ctx.sampler.figures(
            before, ctx.sampler.snapshot(), len(ids) - pending, elapsed
        )
    return {
        "claims": len(ids),
        "seconds": round(elapsed, 2),
        "credits_per_s": round((len(ids) - pending) / elapsed, 1),
        "worker_concurrency": ctx.stack.worker_concurrency,
        "errors": pending,
    }
