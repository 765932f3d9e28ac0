"""Which server serves the REST API fastest here: `python -m bench.topology`.

Starts each candidate in turn on the benchmark's own database and Redis db and drives
the floor request (`GET /api/me` with a cached token) with wrk, 32 connections, the
same run length for each, one after the other in one run. Writes
bench/results/topology.json and prints a table (docs/performance.md quotes it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import env as bench_env
from bench.context import RESULTS, ROOT
from bench.wrk import run_wrk
from deploy.stack import Stack, free_port, wait_for_port


def _serve(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    wait_for_port("127.0.0.1", port, timeout=60, process=process)
    time.sleep(1.0)  # let every worker finish booting
    return process


def _tree_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) of these processes and all their descendants."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _row(label: str, result, cpu: float) -> dict:  # type: ignore[no-untyped-def]
    cpu_ms = 1000 * cpu / result.requests if result.requests else None
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{label:<48} {result.rps:>7.0f} req/s  p99 {result.latency_ms['p99']} ms  "
        f"cpu {cpu_ms or 0:.2f} ms/req  load {load}"
    )
    return {"server": label, **result.as_dict(), "cpu_ms_per_request": cpu_ms, "load": load}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    target = bench_env.target_from_environment()
    bench_env.recreate_database(target)
    env = bench_env.process_environment(target)
    workdir = Path(tempfile.mkdtemp(prefix="redpacket-topology-"))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    bench_env.setup_django(target)
    from bench import seed

    people = seed.create_people(crowd=200, senders=1, tag="topo")
    tokens = workdir / "tokens.txt"
    tokens.write_text("\n".join(people.tokens_of(people.users)) + "\n")
    seed.warm_auth(people.tokens_of(people.users))
    bin_dir = Path(sys.executable).parent

    def daphne(port: int) -> list[str]:
        return [
            str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port),
            "redpacket.asgi:application",
        ]  # fmt: skip

    def uvicorn(port: int, workers: int) -> list[str]:
        return [
            str(bin_dir / "uvicorn"), "redpacket.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-access-log",
            "--log-level", "warning",
        ]  # fmt: skip

    def gunicorn(port: int, workers: int) -> list[str]:
        return [
            str(bin_dir / "gunicorn"), "redpacket.wsgi:application", "-b", f"127.0.0.1:{port}",
            "-w", str(workers), "--no-control-socket", "--access-logfile", "/dev/null",
        ]  # fmt: skip

    def gthread(port: int, workers: int, threads: int) -> list[str]:
        return [*gunicorn(port, workers), "-k", "gthread", "--threads", str(threads)]

    def granian(port: int, workers: int, threads: int | None = None) -> list[str]:
        return [
            str(bin_dir / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers), "--no-ws", "--log-level",
            "warning", "--no-access-log",
            *(["--blocking-threads", str(threads)] if threads else []),
            "redpacket.wsgi:application",
        ]  # fmt: skip

    candidates = [
        ("daphne, 1 process (ASGI)", lambda p: daphne(p)),
        ("uvicorn, 2 workers (ASGI)", lambda p: uvicorn(p, 2)),
        ("granian, 2 workers (WSGI)", lambda p: granian(p, 2)),
        ("granian, 4 workers × 1 thread (WSGI)", lambda p: granian(p, 4, 1)),
        ("gunicorn, 2 gthread workers × 4 threads (WSGI)", lambda p: gthread(p, 2, 4)),
        ("gunicorn, 2 sync workers (WSGI)", lambda p: gunicorn(p, 2)),
        ("gunicorn, 4 sync workers (WSGI)", lambda p: gunicorn(p, 4)),
        ("gunicorn, 6 sync workers (WSGI)", lambda p: gunicorn(p, 6)),
    ]
    rows = []
    for label, command in candidates:
        port = free_port()
        process = _serve(command(port), env, port, workdir / "server.log")
        try:
            cpu = _tree_cpu([process.pid])
            result = run_wrk(
                url=f"http://127.0.0.1:{port}", mode="me", tokens_file=tokens,
                seconds=args.seconds, connections=args.connections,
            )  # fmt: skip
            cpu = _tree_cpu([process.pid]) - cpu
        finally:
            _stop(process)
        rows.append(_row(label, result, cpu))
    for server in ("granian", "gunicorn"):
        stack = Stack(
            env=env, port=free_port(), with_worker=False, with_beat=False,
            run_dir=workdir / f"stack-{server}", wsgi_server=server,
        )  # fmt: skip
        try:
            stack.start()
            pids = [stack.pids()[name] for name in ("nginx", "web")]
            cpu = _tree_cpu(pids)
            result = run_wrk(
                url=stack.url, mode="me", tokens_file=tokens, seconds=args.seconds,
                connections=args.connections,
            )  # fmt: skip
            cpu = _tree_cpu(pids) - cpu
        finally:
            stack.stop()
        rows.append(_row(f"nginx → {stack.web_label} (the stack)", result, cpu))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "topology.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
