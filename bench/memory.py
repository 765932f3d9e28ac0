"""Memory of the stack's processes: resident size, and whether it grows with use.

A leak shows as growth between identical rounds of load, not as a large size once, so
the same short mixed load (floor, grab, hot open) runs `memory_rounds` times and the RSS
of every process is read after each round; growth = last round − first round. The
report also reads every process's RSS once more after the whole run.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bench.context import Context, process_tree
from bench.scenarios.api import hot_open_load, hot_packet_file


def server_rss(stack: Any) -> dict[str, float]:
    """RSS in MB of every process of the stack (each gunicorn/celery child separately)."""
    import psutil

    sizes: dict[str, float] = {}
    for name, pid in stack.pids().items():
        for index, process in enumerate(process_tree(pid)):
            with contextlib.suppress(psutil.NoSuchProcess):
                label = name if index == 0 else f"{name}.{index}"
                sizes[label] = round(process.memory_info().rss / 2**20, 1)
    return sizes


def memory_rounds(ctx: Context) -> dict[str, Any]:
    """The same short mixed load (floor, grab, hot open) `memory_rounds` times; RSS of each
    server process after each round. Growth = last round − first round."""
    seconds = max(2.0, ctx.sizes.seconds / 2)
    packet = hot_packet_file(ctx, 1, "memory-packet.txt")
    rounds = []
    for i in range(ctx.sizes.memory_rounds):
        ctx.load(
            f"memory round {i + 1}: floor",
            mode="me",
            tokens_file=ctx.crowd_tokens(),
            seconds=seconds,
        )
        ctx.load(
            f"memory round {i + 1}: grab",
            mode="view",
            tokens_file=ctx.crowd_tokens(),
            packets_file=packet,
            seconds=seconds,
        )
        hot_open_load(ctx, f"memory round {i + 1}: open", seconds=seconds)
        rounds.append(server_rss(ctx.stack))
    servers = [name for name in rounds[-1] if not name.startswith(("worker", "beat"))]
    growth = {
        name: round(rounds[-1][name] - rounds[0].get(name, rounds[-1][name]), 1)
        for name in rounds[-1]
    }
    return {
        "rounds": rounds,
        "growth_mb": growth,
        "largest_server_mb": max((rounds[-1][n] for n in servers), default=0),
    }
