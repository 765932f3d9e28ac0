"""The benchmark's scenarios, in the order the run takes them.

A scenario is a function of the run's context (bench/context.py) that returns its
figures as a dict (they go to `scenarios.<name>` in bench/results/latest.json), with an
optional reason to skip it. The functions live by how they drive the stack: api.py (the
REST API through wrk), fanout.py (websockets), crediting.py (the Celery worker); this
list, one place, says which run and in what order (growth_small, then growth_large and
growth_huge, bracket the runs that pile up history between them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.context import Context
from bench.scenarios import api, crediting, fanout


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[Context], dict[str, Any]]
    skip: Callable[[Context], str | None] = lambda ctx: None
    floor_ratio: bool = True  # report rps as a fraction of the floor


SCENARIOS: list[Scenario] = [
    Scenario("floor", "floor: GET /api/me with a cached token", api.floor),
    Scenario("grab", "grab check: the crowd GETs one hot packet", api.grab),
    Scenario(
        "growth_small",
        "growth, before: hot open with little history",
        api.growth_small,
        floor_ratio=False,
    ),
    Scenario("hot_open", "hot open: the crowd races for 100-share packets", api.hot_open),
    Scenario("spread_open", "spread open: opens across many live packets", api.spread_open),
    Scenario("send", "send: senders pay packets from change (no PIN)", api.send),
    Scenario("send_pin", "send with PIN: the same, each checked with a payment PIN", api.send_pin),
    Scenario(
        "fanout",
        "fan-out: packet.new to every connected member",
        fanout.fanout,
        floor_ratio=False,
    ),
    Scenario(
        "crediting",
        "crediting drain: one worker on a backlog of claims",
        crediting.crediting,
        floor_ratio=False,
    ),
    Scenario(
        "growth_large",
        "growth, after: hot open with a large history",
        api.growth_large,
        floor_ratio=False,
    ),
    Scenario(
        "growth_huge",
        "growth, at 10 M claims: hot open over months of partitioned history",
        api.growth_huge,
        floor_ratio=False,
    ),
    Scenario(
        "shake",
        "shake: the crowd shakes one running campaign",
        api.shake,
        skip=api.shake_skip,
    ),
]
