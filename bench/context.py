"""What every scenario is handed: the run's sizes, the stack, the people, and one way to
drive load.

The scenarios, the memory rounds and the machine limits all run against the same state
(which stack, which seeded users, which sizes, where the data files go) and load the
servers the same way (wrk, with a seconds bar, sampled by py-spy when `--profile` names
the load). That state and that one load call live here, apart from the scenarios
themselves, so that each of those modules depends on this one and none on the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import env as bench_env
from bench import profile
from bench.wrk import LoadResult, run_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


# --- sizes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    crowd: int  # users racing for packets (members of the hot room)
    senders: int
    seconds: float  # each load run
    connections: int
    hot_packets: int  # per hot-open run (100 shares each)
    spread_packets: int
    fanout_members: int
    fanout_sends: int
    fanout_processes: int
    backlog: int  # claims pending credit for the drain
    growth_small: int
    growth_large: int
    growth_huge: int
    memory_rounds: int


FULL = Sizes(
    crowd=2000, senders=200, seconds=20, connections=64, hot_packets=150, spread_packets=10_000,
    fanout_members=2000, fanout_sends=10, fanout_processes=4, backlog=20_000,
    growth_small=10_000, growth_large=1_000_000, growth_huge=10_000_000, memory_rounds=3,
)  # fmt: skip
QUICK = Sizes(
    crowd=200, senders=20, seconds=3, connections=16, hot_packets=20, spread_packets=300,
    fanout_members=40, fanout_sends=3, fanout_processes=2, backlog=1_000,
    growth_small=2_000, growth_large=20_000, growth_huge=50_000, memory_rounds=2,
)  # fmt: skip


# --- the run's context -------------------------------------------------------------------


@dataclass
class Context:
    sizes: Sizes
    quick: bool
    target: bench_env.Target
    stack: Any
    people: Any
    workdir: Path
    progress: Any
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)
    profile: tuple[str, ...] = ()  # load labels to sample with py-spy
    profile_dir: Path = RESULTS / "profiles"
    # With --cluster: CPU per node around every load (bench/cluster.py), by load label.
    sampler: Any = None
    nodes: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.stack.url

    def write_lines(self, name: str, values: list[Any]) -> Path:
        path = self.workdir / name
        path.write_text("\n".join(str(v) for v in values) + "\n")
        return path

    def crowd_tokens(self) -> Path:
        return self.write_lines("crowd-tokens.txt", self.people.tokens_of(self.people.users))

    def load(self, label: str, **kwargs: Any) -> LoadResult:
        seconds = kwargs.setdefault("seconds", self.sizes.seconds)
        kwargs.setdefault("connections", self.sizes.connections)
        with (
            self.profiling(label, seconds, self.server_pids),
            timer_bar(self.progress, label, seconds),
        ):
            before = self.sampler.snapshot() if self.sampler else None
            result = run_wrk(url=self.url, **kwargs)
            if self.sampler:
                after = self.sampler.snapshot()
                self.nodes[label] = self.sampler.figures(
                    before, after, result.requests, result.seconds
                )
            return result

    @contextlib.contextmanager
    def profiling(self, label: str, seconds: float, pids: Callable[[], list[int]]):  # type: ignore[no-untyped-def]
        """py-spy on the processes `pids()` names for `seconds`, if `--profile` names
        `label`; otherwise nothing."""
        if label not in self.profile:
            yield
            return
        with profile.sampling(pids(), seconds, self.profile_dir, label):
            yield

    def server_pids(self) -> list[int]:
        """The WSGI workers and the Celery pool processes: where requests and credits run."""
        names = getattr(self.stack, "server_names", ("web", "worker"))
        return [pid for name in names for pid in self.child_pids(name)]

    def asgi_processes(self) -> list[Any]:
        """The daphne processes (psutil) that hold the websockets."""
        return [
            process
            for name, pid in self.stack.pids().items()
            if name.startswith("daphne")
            for process in process_tree(pid)
        ]

    def child_pids(self, name: str) -> list[int]:
        """The processes under the stack's process `name` (all generations)."""
        return [process.pid for process in process_tree(self.stack.pids().get(name))[1:]]


def process_tree(pid: int | None) -> list[Any]:
    """The process `pid` and all its descendants (psutil), [] if there is none."""
    import psutil

    if pid is None:
        return []
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@contextlib.contextmanager
def timer_bar(progress: Any, label: str, seconds: float):  # type: ignore[no-untyped-def]
    """A seconds bar under the scenario bar while a load tool runs."""
    import threading

    from tqdm import tqdm

    stop = threading.Event()
    bar = tqdm(total=round(seconds), desc=f"  {label}", unit="s", leave=False, position=1)

    def tick() -> None:
        while not stop.wait(1):
            if bar.n < bar.total:
                bar.update(1)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.close()
