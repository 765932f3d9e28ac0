"""The benchmark of the real stack: `make bench` (full) or `make bench-quick` (CI smoke).

It checks that PostgreSQL and Redis are up (it starts neither), drops and creates its own
database (BENCH_DATABASE, default `redpacket_bench`) and uses its own Redis database
(BENCH_REDIS_URL, default db 5), starts the deployed topology (deploy/stack.py: nginx in
front of gunicorn and daphne, one Celery worker) on free ports, seeds through the
services (bulk where a scenario only needs the rows to exist), and drives load from
separate processes: wrk (C, Lua scripts rotating per-user tokens) for HTTP and
bench/fanout.py processes for websockets. Then it lets the worker drain, runs every
SPEC §8 check (`wallet.reconciliation.all_findings()`) and exits non-zero on any
violation or any scenario error. Results: bench/results/latest.json and a table.

Scenarios are a list (SCENARIOS); each is a function of the run's context that returns
its figures, with an optional reason to skip it. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import env as bench_env
from bench.wrk import LoadResult, run_wrk

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# What a profile summary lists (inclusive time): the project and the libraries it calls.
PROFILED_PACKAGES = (
    "redpacket", "wallet", "chat", "shake", "kombu", "celery", "django", "rest_framework",
    "psycopg", "redis", "channels",
)  # fmt: skip


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
    memory_rounds: int


FULL = Sizes(
    crowd=2000, senders=200, seconds=20, connections=64, hot_packets=150, spread_packets=10_000,
    fanout_members=500, fanout_sends=10, fanout_processes=4, backlog=20_000,
    growth_small=10_000, growth_large=1_000_000, memory_rounds=3,
)  # fmt: skip
QUICK = Sizes(
    crowd=200, senders=20, seconds=3, connections=16, hot_packets=20, spread_packets=300,
    fanout_members=40, fanout_sends=3, fanout_processes=2, backlog=1_000,
    growth_small=2_000, growth_large=20_000, memory_rounds=2,
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
        samplers = []
        if self.profile and label in self.profile:
            from bench import profile

            samplers = profile.start(
                self.server_pids(), seconds, self.profile_dir, label.replace(" ", "-")
            )
        with timer_bar(self.progress, label, seconds):
            result = run_wrk(url=self.url, **kwargs)
        if samplers:
            profile.finish(samplers)
        return result

    def server_pids(self) -> list[int]:
        """The gunicorn workers and the Celery pool processes: where requests and credits run."""
        import psutil

        pids = []
        for name in ("gunicorn", "worker"):
            pid = self.stack.pids().get(name)
            if pid is not None:
                pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
        return pids


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


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[Context], dict[str, Any]]
    skip: Callable[[Context], str | None] = lambda ctx: None
    floor_ratio: bool = True  # report rps as a fraction of the floor


SCENARIOS: list[Scenario] = []


def scenario(name: str, title: str, *, skip=None, floor_ratio: bool = True):  # type: ignore[no-untyped-def]
    """Register a scenario; the list's order is the run's order."""

    def register(function: Callable[[Context], dict[str, Any]]):  # type: ignore[no-untyped-def]
        SCENARIOS.append(Scenario(name, title, function, skip or (lambda ctx: None), floor_ratio))
        return function

    return register


# --- scenarios -----------------------------------------------------------------------------


@scenario("floor", "floor: GET /api/me with a cached token")
def floor(ctx: Context) -> dict[str, Any]:
    return ctx.load("floor", mode="me", tokens_file=ctx.crowd_tokens()).as_dict()


def _hot_packet_file(ctx: Context, n: int, name: str) -> Path:
    from bench import seed

    ids = seed.bulk_packets(ctx.people, room=ctx.people.hot_room, n=n, count=100, total_fen=1000)
    return ctx.write_lines(name, ids)


@scenario("grab", "grab check: the crowd GETs one hot packet")
def grab(ctx: Context) -> dict[str, Any]:
    packet = _hot_packet_file(ctx, 1, "grab-packet.txt")
    tokens = ctx.crowd_tokens()
    result = ctx.load("grab check", mode="view", tokens_file=tokens, packets_file=packet)
    paced = ctx.load(
        "grab check at 80%",
        mode="view",
        tokens_file=tokens,
        packets_file=packet,
        rate=round(result.rps * 0.8),
    )
    return {**result.as_dict(), "at_80_percent": paced.as_dict()}


def _hot_open(
    ctx: Context, label: str, *, seconds: float | None = None, rate: float | None = None
) -> LoadResult:
    packets = _hot_packet_file(ctx, ctx.sizes.hot_packets, f"hot-{label.replace(' ', '-')}.txt")
    return ctx.load(
        label,
        mode="open_hot",
        tokens_file=ctx.crowd_tokens(),
        packets_file=packets,
        seconds=seconds or ctx.sizes.seconds,
        rate=rate,
        expected=(200, 409),
    )


def _claims_now() -> int:
    from bench import seed

    return seed.claims_total()


@scenario("growth_small", "growth, before: hot open with little history", floor_ratio=False)
def growth_small(ctx: Context) -> dict[str, Any]:
    from bench import seed

    have = _claims_now()
    if have < ctx.sizes.growth_small:
        seed.load_history(ctx.people, claims=ctx.sizes.growth_small - have)
    claims = _claims_now()
    result = _hot_open(ctx, "hot open (small history)")
    return {"claims_in_database": claims, **result.as_dict()}


@scenario("hot_open", "hot open: the crowd races for 100-share packets")
def hot_open(ctx: Context) -> dict[str, Any]:
    result = _hot_open(ctx, "hot open")
    paced = _hot_open(ctx, "hot open at 80%", rate=round(result.rps * 0.8))
    return {**result.as_dict(), "at_80_percent": paced.as_dict()}


@scenario("spread_open", "spread open: opens across many live packets")
def spread_open(ctx: Context) -> dict[str, Any]:
    from bench import seed

    n = ctx.sizes.spread_packets
    with timer_bar(ctx.progress, f"seeding {n} packets", max(1, n // 700)):
        ids = seed.bulk_packets(
            ctx.people, room=ctx.people.hot_room, n=n, count=100, total_fen=1000
        )
    packets = ctx.write_lines("spread-packets.txt", ids)
    result = ctx.load(
        "spread open", mode="open_spread", tokens_file=ctx.crowd_tokens(), packets_file=packets
    )
    return {"live_packets": n, **result.as_dict()}


@scenario("send", "send: senders pay packets from change (no PIN)")
def send(ctx: Context) -> dict[str, Any]:
    from bench import seed

    people = ctx.people
    for sender in people.senders:
        seed.fund(people, sender, 200_000)
    seed.warm_auth(people.tokens_of(people.senders))
    tokens = ctx.write_lines("sender-tokens.txt", people.tokens_of(people.senders))
    result = ctx.load(
        "send",
        mode="send",
        tokens_file=tokens,
        expected=(201,),
        env={"BENCH_ROOM": str(people.hot_room.pk), "BENCH_TAG": f"send{time.time_ns()}"},
    )
    return {"senders": len(people.senders), **result.as_dict()}


@scenario("fanout", "fan-out: packet.new to every connected member", floor_ratio=False)
def fanout(ctx: Context) -> dict[str, Any]:
    import httpx

    from bench import seed

    people, sizes = ctx.people, ctx.sizes
    sender = people.senders[0]
    members = people.users[: sizes.fanout_members]
    room = seed.group_room(sender, members, "广播群")
    seed.fund(people, sender, 10_000 * sizes.fanout_sends)
    tokens = ctx.write_lines("fanout-tokens.txt", people.tokens_of(members))
    seed.warm_auth(people.tokens_of(members))
    per = -(-len(members) // sizes.fanout_processes)
    drivers = []
    for start in range(0, len(members), per):
        drivers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.fanout",
                    ctx.url,
                    str(room.pk),
                    str(tokens),
                    str(start),
                    str(per),
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    connected = 0
    for driver in drivers:
        line = driver.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("READY"):
            raise RuntimeError(f"a fan-out driver failed: {line!r}")
        connected += int(line.split()[1])
    sent: dict[str, float] = {}
    errors = 0
    client = httpx.Client(
        base_url=ctx.url, headers={"Authorization": f"Token {people.tokens[sender.pk]}"}
    )
    with timer_bar(ctx.progress, "fan-out sends", sizes.fanout_sends * 1.5):
        for i in range(sizes.fanout_sends):
            time.sleep(1.0)
            started = time.time()
            response = client.post(
                "/api/packets",
                json={
                    "room_id": room.pk,
                    "kind": "lucky",
                    "count": 10,
                    "total_fen": 1000,
                    "pay_with": "balance",
                },
                headers={"Idempotency-Key": f"fanout-{time.time_ns()}-{i}"},
            )
            if response.status_code != 201:
                errors += 1
                continue
            sent[str(response.json()["id"])] = started
        time.sleep(2.0)
    received: dict[str, list[float]] = {}
    retries, first_errors = 0, []
    for driver in drivers:
        output, _ = driver.communicate("STOP\n", timeout=60)
        line = next(row for row in output.splitlines() if row.startswith("RESULT "))
        data = json.loads(line.removeprefix("RESULT "))
        errors += data["errors"]
        retries += data["handshake_retries"]
        first_errors += data["first_errors"]
        for packet_id, times in data["received"].items():
            received.setdefault(packet_id, []).extend(times)
    lasts, medians, missing = [], [], 0
    for packet_id, started in sent.items():
        times = sorted(t - started for t in received.get(packet_id, []))
        missing += len(members) - len(times)
        if times:
            lasts.append(times[-1] * 1000)
            medians.append(times[len(times) // 2] * 1000)
    errors += missing
    return {
        "members": len(members),
        "connected": connected,
        "sends": len(sent),
        "missing_deliveries": missing,
        "handshake_retries": retries,
        "first_errors": first_errors[:3],
        "errors": errors,
        "last_member_ms": {
            "p50": round(statistics.median(lasts), 1) if lasts else None,
            "p99": round(_percentile(lasts, 99), 1) if lasts else None,
            "max": round(max(lasts), 1) if lasts else None,
        },
        "median_member_ms": round(statistics.median(medians), 1) if medians else None,
    }


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def _pending_credits() -> int:
    from redpacket.packets.models import Claim

    return Claim.objects.filter(credit_status=Claim.CreditStatus.PENDING).count()


def _gunicorn_pids(ctx: Context) -> set[int]:
    import psutil

    pid = ctx.stack.pids().get("gunicorn")
    return {child.pid for child in psutil.Process(pid).children()} if pid else set()


def wait_for_credits(ctx: Context, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    pending = _pending_credits()
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        pending = _pending_credits()
    return pending


@scenario("crediting", "crediting drain: one worker on a backlog of claims", floor_ratio=False)
def crediting(ctx: Context) -> dict[str, Any]:
    from bench import seed
    from redpacket.packets.models import Claim
    from redpacket.packets.tasks import claim_credit
    from wallet.queues import queue_credit

    wait_for_credits(ctx, timeout=300)
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
    samplers = []
    if "crediting" in ctx.profile:
        from bench import profile

        pool = [pid for pid in ctx.server_pids() if pid not in _gunicorn_pids(ctx)]
        samplers = profile.start(pool, min(20, ctx.sizes.seconds), ctx.profile_dir, "crediting")
    pending = len(ids)
    # Every pending claim is the backlog's now (the earlier ones were drained first); the
    # count reads the partial index of pending claims, cheap beside the worker.
    with timer_bar(ctx.progress, "draining", len(ids) / 300):
        while pending and time.monotonic() - started < 900:
            time.sleep(0.5)
            pending = Claim.objects.filter(credit_status=Claim.CreditStatus.PENDING).count()
    elapsed = time.monotonic() - started
    if samplers:
        profile.finish(samplers)
    return {
        "claims": len(ids),
        "seconds": round(elapsed, 2),
        "credits_per_s": round((len(ids) - pending) / elapsed, 1),
        "worker_concurrency": ctx.stack.worker_concurrency,
        "errors": pending,
    }


@scenario("growth_large", "growth, after: hot open with a large history", floor_ratio=False)
def growth_large(ctx: Context) -> dict[str, Any]:
    from bench import seed

    have = _claims_now()
    if have < ctx.sizes.growth_large:
        with timer_bar(ctx.progress, "loading history", max(1, ctx.sizes.growth_large // 25_000)):
            seed.load_history(ctx.people, claims=ctx.sizes.growth_large - have)
    claims = _claims_now()
    result = _hot_open(ctx, "hot open (large history)")
    small = ctx.results.get("growth_small", {})
    out = {"claims_in_database": claims, **result.as_dict()}
    if small.get("latency_ms"):
        out["p50_vs_small"] = round(
            result.latency_ms["p50"] / max(small["latency_ms"]["p50"], 0.01), 2
        )
    return out


def _shake_skip(ctx: Context) -> str | None:
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/shake/campaigns/1/shake")
    except Resolver404:
        return "the shake app has no API yet (POST /api/shake/campaigns/<id>/shake)"
    return None


@scenario("shake", "shake: the crowd shakes one running campaign", skip=_shake_skip)
def shake(ctx: Context) -> dict[str, Any]:
    """Through the API alone (API.md "Shake"): a staff sponsor creates a campaign, the
    crowd shakes it. Reports shakes/s, what the answers were, and the busy (shed) rate."""
    from datetime import timedelta

    import httpx
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from bench import seed
    from redpacket.accounts.authentication import forget_user

    people = ctx.people
    sponsor = people.senders[-1]
    sponsor.is_staff = True
    sponsor.save(update_fields=["is_staff"])
    # Creating a campaign moves money: it needs Django's campaign permission.
    sponsor.user_permissions.add(
        Permission.objects.get(content_type__app_label="shake", codename="add_campaign")
    )
    forget_user(sponsor.pk)  # the cached user (from the send scenario) is not staff
    count = 10 * len(people.users)
    seed.fund(people, sponsor, count * 300)
    seed.warm_auth([people.tokens[sponsor.pk]])
    created = httpx.post(
        f"{ctx.url}/api/shake/campaigns",
        headers={
            "Authorization": f"Token {people.tokens[sponsor.pk]}",
            "Idempotency-Key": f"shake-{time.time_ns()}",
        },
        json={
            "name": "压测摇一摇",
            "budget_fen": count * 300,
            "count": count,
            "ends_at": (timezone.now() + timedelta(hours=1)).isoformat(),
            "tiers": [{"probability_ppm": 1_000_000, "min_fen": 200, "max_fen": 300}],
        },
        timeout=30,
    )
    if created.status_code != 201:
        raise RuntimeError(f"creating the campaign failed: {created.status_code} {created.text}")
    campaign = ctx.write_lines("shake-campaign.txt", [created.json()["id"]])
    result = ctx.load("shake", mode="shake", tokens_file=ctx.crowd_tokens(), packets_file=campaign)
    answers = result.extra.get("answers", {})
    data = result.as_dict()
    data["busy_rate"] = round(answers.get("busy", 0) / max(result.requests, 1), 4)
    return data


# --- the machine's raw limits --------------------------------------------------------------


def redis_limit(ctx: Context) -> dict[str, Any]:
    """redis-benchmark running the gate's admit script (EVALSHA), on the bench's Redis db."""
    import redis

    from redpacket.packets.gate import _ADMIT

    host, port = ctx.target.redis_host_port
    client = redis.Redis(host=host, port=port, db=ctx.target.redis_db)
    sha = client.script_load(_ADMIT)
    client.set("rp:{bench}:left", 10**9)
    requests = 200_000 if not ctx.quick else 20_000
    completed = subprocess.run(
        [
            "redis-benchmark", "-h", host, "-p", str(port), "--dbnum", str(ctx.target.redis_db),
            "-n", str(requests), "-c", "50", "-r", "1000000", "-q",
            "EVALSHA", sha, "2", "rp:{bench}:left", "rp:{bench}:who", "__rand_int__",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    client.delete("rp:{bench}:left", "rp:{bench}:who")
    match = re.search(r"([\d.]+) requests per second(?:, p50=([\d.]+) msec)?", completed.stdout)
    if not match:
        raise RuntimeError(f"redis-benchmark said: {completed.stdout}{completed.stderr}")
    return {
        "ops_per_s": float(match.group(1)),
        "p50_ms": float(match.group(2)) if match.group(2) else None,
        "clients": 50,
    }


PGBENCH_SCRIPT = """\\set aid random(1, 1000)
BEGIN;
UPDATE bench_pg_account SET balance = balance + 1 WHERE id = :aid;
INSERT INTO bench_pg_history (account_id, delta) VALUES (:aid, 1);
END;
"""


def postgres_limit(ctx: Context) -> dict[str, Any]:
    """pgbench: a one-row UPDATE plus an INSERT per transaction (an open's shape)."""
    target = ctx.target
    bench_env.psql(
        target,
        "DROP TABLE IF EXISTS bench_pg_account, bench_pg_history;"
        "CREATE TABLE bench_pg_account (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0);"
        "INSERT INTO bench_pg_account SELECT g FROM generate_series(1, 1000) g;"
        "CREATE TABLE bench_pg_history (id bigserial PRIMARY KEY, account_id int, delta int,"
        " at timestamptz DEFAULT now());",
        database=target.database,
    )
    script = ctx.workdir / "pgbench.sql"
    script.write_text(PGBENCH_SCRIPT)
    host, port, user = target.pg_host_port_user
    seconds = max(3, round(ctx.sizes.seconds / 2))
    completed = subprocess.run(
        [
            "pgbench", "-h", host, "-p", str(port), "-U", user, "-n", "-f", str(script),
            "-c", "8", "-j", "2", "-T", str(seconds), target.database,
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    bench_env.psql(
        target, "DROP TABLE bench_pg_account, bench_pg_history", database=target.database
    )
    tps = re.search(r"tps = ([\d.]+)", completed.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", completed.stdout)
    if not tps:
        raise RuntimeError(f"pgbench said: {completed.stdout}{completed.stderr}")
    return {
        "tps": float(tps.group(1)),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "clients": 8,
        "seconds": seconds,
    }


# --- memory --------------------------------------------------------------------------------


def server_rss(stack: Any) -> dict[str, float]:
    """RSS in MB of every process of the stack (each gunicorn/celery child separately)."""
    import psutil

    sizes: dict[str, float] = {}
    for name, pid in stack.pids().items():
        try:
            parent = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        for index, process in enumerate([parent, *parent.children(recursive=True)]):
            with contextlib.suppress(psutil.NoSuchProcess):
                label = name if index == 0 else f"{name}.{index}"
                sizes[label] = round(process.memory_info().rss / 2**20, 1)
    return sizes


def memory_rounds(ctx: Context) -> dict[str, Any]:
    """The same short mixed load (floor, grab, hot open) `memory_rounds` times; RSS of each
    server process after each round. Growth = last round − first round."""
    seconds = max(2.0, ctx.sizes.seconds / 2)
    packet = _hot_packet_file(ctx, 1, "memory-packet.txt")
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
        _hot_open(ctx, f"memory round {i + 1}: open", seconds=seconds)
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


# --- the run -------------------------------------------------------------------------------


def check_services(target: bench_env.Target) -> None:
    """PostgreSQL and Redis must already be running; the benchmark starts neither."""
    import redis

    host, port, _user = target.pg_host_port_user
    if subprocess.run(["pg_isready", "-q", "-h", host, "-p", str(port)], check=False).returncode:
        raise SystemExit(f"PostgreSQL is not running on {host}:{port}")
    rhost, rport = target.redis_host_port
    try:
        redis.Redis(host=rhost, port=rport).ping()
    except redis.RedisError as error:
        raise SystemExit(f"Redis is not running on {rhost}:{rport}: {error}") from error
    for tool in ("nginx", "wrk", "redis-benchmark", "pgbench"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(
                f"{tool} is missing: apt-get install nginx wrk redis-tools postgresql-client"
            )


def reconcile(ctx: Context) -> dict[str, Any]:
    from wallet.reconciliation import all_findings

    pending = wait_for_credits(ctx, timeout=600)
    findings = all_findings()
    return {
        "pending_credits_left": pending,
        "findings": [str(f) for f in findings[:50]],
        "findings_count": len(findings),
    }


TARGETS = [
    # (description, scenario, how to read the value, comparison, threshold)
    ("grab check ≥ 0.6 × floor", "grab", "fraction_of_floor", ">=", 0.6),
    ("spread open ≥ 0.3 × floor", "spread_open", "fraction_of_floor", ">=", 0.3),
    ("hot open ≥ 0.2 × floor", "hot_open", "fraction_of_floor", ">=", 0.2),
    ("send ≥ 0.2 × floor", "send", "fraction_of_floor", ">=", 0.2),
    ("grab check p99 at 80% of max < 100 ms", "grab", "at_80_percent.latency_ms.p99", "<", 100),
    ("hot open p99 at 80% of max < 100 ms", "hot_open", "at_80_percent.latency_ms.p99", "<", 100),
    ("fan-out to the members p99 < 1 s", "fanout", "last_member_ms.p99", "<", 1000),
    ("crediting ≥ 300 credits/s per worker", "crediting", "credits_per_s", ">=", 300),
    (
        "growth: hot-open p50 ≤ 1.5 × (large vs small history)",
        "growth_large",
        "p50_vs_small",
        "<=",
        1.5,
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
            note = (
                f"{data['credits_per_s']} credits/s ({data['claims']} claims, {data['seconds']} s)"
            )
        elif name.startswith("growth"):
            note = f"{data['claims_in_database']:,} claims in the database"
            if "p50_vs_small" in data:
                note += f"; p50 × {data['p50_vs_small']} of the small-history run"
        rps = data.get("rps")
        fraction = data.get("fraction_of_floor")
        print(
            f"{name:<16}{rps if rps is not None else '':>9}"
            f"{fraction if fraction is not None else '':>9}"
            f"{latency.get('p50', ''):>9}{latency.get('p95', ''):>9}{latency.get('p99', ''):>9}"
            f"{data.get('errors', 0):>8}  {note}"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the deployed stack.")
    parser.add_argument("--quick", action="store_true", help="small sizes for CI (< 2 min)")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--keep", action="store_true", help="keep the stack's logs and data files")
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated load labels (e.g. 'hot open,spread open') to sample with "
        "py-spy; collapsed stacks and a summary go to bench/results/profiles/",
    )
    args = parser.parse_args(argv)

    # A terminated run still stops the stack it started (the `finally` below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.monotonic()
    sizes = QUICK if args.quick else FULL
    target = bench_env.target_from_environment()
    check_services(target)
    bench_env.recreate_database(target)
    import redis

    rhost, rport = target.redis_host_port
    redis.Redis(host=rhost, port=rport, db=target.redis_db).flushdb()

    workdir = Path(tempfile.mkdtemp(prefix="redpacket-bench-"))
    from deploy.stack import Stack

    env = bench_env.process_environment(target)
    stack = Stack(env=env, port=_free_port(), with_beat=True, run_dir=workdir / "stack")
    bench_env.setup_django(target)

    from tqdm import tqdm

    from bench import seed

    selected = [s for s in SCENARIOS if not args.only or s.name in args.only.split(",")]
    progress = tqdm(total=len(selected) + 4, desc="bench", unit="step", position=0)
    report: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full",
            "sizes": sizes.__dict__,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "topology": {
                "front": "nginx (1 worker)",
                "wsgi": f"gunicorn, {stack.gunicorn_workers} sync workers",
                "asgi": "daphne, 1 process (/ws/)",
                "worker": f"celery, prefork, concurrency {stack.worker_concurrency}",
            },
        },
        "scenarios": {},
    }
    exit_code = 0
    try:
        progress.set_description("starting the stack")
        stack.start()
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
        )
        ctx.people = seed.create_people(
            crowd=sizes.crowd, senders=sizes.senders, tag=str(os.getpid())
        )
        seed.warm_auth(ctx.people.tokens_of(ctx.people.users))
        progress.update(1)
        progress.set_description("machine limits")
        ctx.limits = {
            "redis_admit": redis_limit(ctx),
            "postgres_update_insert": postgres_limit(ctx),
        }
        report["limits"] = ctx.limits
        progress.update(1)
        for item in selected:
            progress.set_description(item.name)
            reason = item.skip(ctx)
            if reason:
                ctx.results[item.name] = {"skipped": reason}
                ctx.notes.append(f"{item.name} skipped: {reason}")
            else:
                try:
                    ctx.results[item.name] = item.run(ctx)
                except Exception as error:  # one broken scenario must not hide the others
                    traceback.print_exc()
                    ctx.results[item.name] = {"errors": 1, "failed": repr(error)}
            progress.update(1)
        floor_rps = ctx.results.get("floor", {}).get("rps")
        redis_ops = ctx.limits["redis_admit"]["ops_per_s"]
        pg_tps = ctx.limits["postgres_update_insert"]["tps"]
        for name, data in ctx.results.items():
            item = next(s for s in SCENARIOS if s.name == name)
            if data.get("rps") and floor_rps and item.floor_ratio:
                data["fraction_of_floor"] = round(data["rps"] / floor_rps, 3)
            if data.get("rps"):
                data["fraction_of_redis_admit"] = round(data["rps"] / redis_ops, 3)
                data["fraction_of_postgres_tps"] = round(data["rps"] / pg_tps, 3)
        report["scenarios"] = ctx.results
        progress.set_description("memory rounds")
        report["memory"] = memory_rounds(ctx) if not args.only else None
        report["memory_after_run_mb"] = server_rss(stack)
        progress.set_description("reconciliation")
        report["invariants"] = reconcile(ctx)
        progress.update(1)
    finally:
        progress.close()
        stack.stop()
    if ctx.profile:
        from bench import profile

        for label in ctx.profile:
            files = sorted(ctx.profile_dir.glob(f"{label.replace(' ', '-')}-*.txt"))
            summary = profile.summarize(files, only=PROFILED_PACKAGES)
            (ctx.profile_dir / f"{label.replace(' ', '-')}.summary.txt").write_text(summary + "\n")
    report["targets"] = evaluate_targets(report["scenarios"], report.get("memory"))
    report["notes"] = ctx.notes
    report["meta"]["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_table(report)
    print(f"results: {RESULTS / 'latest.json'}  ({report['meta']['seconds']} s)")
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
    if args.keep:
        print(f"logs and data files kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return exit_code


def _free_port() -> int:
    from deploy.stack import free_port

    return free_port()


if __name__ == "__main__":
    sys.exit(main())
