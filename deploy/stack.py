"""The deployed topology on one machine, in the foreground (`make stack`).

    nginx (one local front, HOST:PORT)
      ├── /ws/      → daphne × 2 (ASGI: websockets; least connections)
      ├── /static/  → the collected static files
      └── /         → granian (WSGI workers: pages, /api/, admin; STACK_WSGI=gunicorn for
                      gunicorn's sync workers instead)
    celery worker (crediting, refunds, 对账) and celery beat (the sweeps)

Why this split: on a 2-core machine WSGI workers serve a trivial Django JSON view several
times faster than one ASGI process does, and granian's (HTTP in Rust, keep-alive to
nginx) for less CPU per request than gunicorn's sync workers (docs/performance.md, "Round
5"), while websockets need an ASGI server. nginx puts both behind one address. Two daphne
processes (ASGI_PROCESSES) share the websockets: one event to a room of 2,000 is 2,000
frames to write, and one process writes them on one core (docs/performance.md, "Round 4").

Everything runs against DATABASE_URL / REDIS_URL from the environment. Ctrl-C (or
SIGTERM) stops every process it started. The benchmark (bench/) starts the same stack
through `Stack`, on ports and a database of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RUN_DIR = ROOT / "artifacts" / "stack"
# PostgreSQL connections each process may hold (its pool's max_size, DB_POOL_MAX_SIZE):
# a sync gunicorn worker serves one request at a time, a prefork Celery process runs one
# task at a time, daphne serves many requests at once (a thread each). The whole stack
# holds at most workers × 2 + 10 × daphnes + (concurrency + 1) × 2 + 1 (README "Connections").
# A granian worker runs the app in one blocking thread (`--blocking-threads 1`): one
# request at a time too, so the same pool size.
POOL_SIZES = {"web": 2, "daphne": 10, "worker": 2, "beat": 1}
# The WSGI server of pages and /api/: granian (default) or gunicorn (sync workers).
WSGI_SERVERS = ("granian", "gunicorn")


def default_wsgi_server() -> str:
    server = os.environ.get("STACK_WSGI") or "granian"
    if server not in WSGI_SERVERS:
        raise ValueError(f"STACK_WSGI={server!r}: one of {', '.join(WSGI_SERVERS)}")
    return server


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, *, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            command = cast("list[str]", process.args)  # started from a list (`_spawn`)
            raise RuntimeError(f"process {command[0]} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def render_template(text: str, **values: str) -> str:
    """Fill in each `@NAME@` (nginx itself uses `$name`, so not string.Template)."""

    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"@([A-Z_]+)@", value, text)


def upstream_servers(addresses: list[str], options: str = "") -> str:
    """nginx `server` lines of an upstream block, one per address."""
    suffix = f" {options}" if options else ""
    return "\n".join(f"        server {address}{suffix};" for address in addresses)


def default_web_workers() -> int:
    """WEB_WORKERS (or GUNICORN_WORKERS, its older name), else two workers per core, each
    serving one request at a time: each waits on PostgreSQL/Redis part of the time."""
    workers = os.environ.get("WEB_WORKERS") or os.environ.get("GUNICORN_WORKERS")
    return int(workers or 2 * (os.cpu_count() or 1))


def default_asgi_processes() -> int:
    """ASGI_PROCESSES, else two daphne processes: the websockets of a large room spread
    over both cores of the machine this runs on."""
    return int(os.environ.get("ASGI_PROCESSES") or 2)


def stack_environment(
    base: dict[str, str] | None = None, *, secrets_dir: Path | None = None
) -> dict[str, str]:
    """The environment every process of the stack gets: production settings (DEBUG off),
    plain HTTP on loopback (no TLS redirect, no secure-only cookies), one trusted proxy
    (nginx) in front, the sandbox bank and SMS explicitly allowed (a local demo), and a
    bounded connection pool per process. Anything already set in `base` wins."""
    env = dict(os.environ if base is None else base)
    defaults = {
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "TRUSTED_PROXY_COUNT": "1",
        "ALLOW_SANDBOX_PAYMENTS": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "redpacket.settings",
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    if not env.get("SECRET_KEY"):
        # A local stack without a configured key gets a fresh one per start (sessions
        # do not survive a restart); production sets SECRET_KEY.
        env["SECRET_KEY"] = secrets.token_urlsafe(50)
    if not env.get("ALLOCATION_SECRET"):
        # Kept across restarts (packets are audited against it), in the git-ignored run
        # directory; production sets ALLOCATION_SECRET.
        env["ALLOCATION_SECRET"] = _kept_secret((secrets_dir or RUN_DIR) / "allocation-secret")
    if not env.get("PIN_PEPPER"):
        # Kept too: payment PINs are stored as HMACs under it; production sets PIN_PEPPER.
        env["PIN_PEPPER"] = _kept_secret((secrets_dir or RUN_DIR) / "pin-pepper")
    return env


def _kept_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    path.write_text(value)
    path.chmod(0o600)
    return value


@dataclass
class Stack:
    """nginx + granian or gunicorn + daphne (+ celery worker and beat) as child processes."""

    env: dict[str, str]
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int = field(default_factory=default_web_workers)
    wsgi_server: str = field(default_factory=default_wsgi_server)
    asgi_processes: int = field(default_factory=default_asgi_processes)
    worker_concurrency: int = field(
        default_factory=lambda: int(os.environ.get("WORKER_CONCURRENCY", "4"))
    )
    with_worker: bool = True
    with_beat: bool = True
    run_dir: Path | None = None
    python: str = sys.executable
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix="redpacket-stack-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.wsgi_port = free_port(self.host)
        self.asgi_ports = [free_port(self.host) for _ in range(self.asgi_processes)]

    # --- processes -----------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        return str(Path(self.python).parent / name)

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        assert self.run_dir is not None
        log = (self.run_dir / f"{name}.log").open("ab")
        env = dict(self.env)
        kind = name.split("-")[0]  # "daphne-2" is a daphne
        if "DB_POOL_MAX_SIZE" not in env and kind in POOL_SIZES:
            env["DB_POOL_MAX_SIZE"] = str(POOL_SIZES[kind])
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, Ctrl-C aside
        )
        self.processes[name] = process
        return process

    def prepare(self) -> None:
        """Migrate and collect the static files (the stack serves them from STATIC_ROOT)."""
        manage = [self.python, str(ROOT / "manage.py")]
        for args in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(
                [*manage, *args], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL
            )

    @property
    def web_label(self) -> str:
        """The WSGI server as reports name it."""
        kind = "sync workers" if self.wsgi_server == "gunicorn" else "workers × 1 thread"
        return f"{self.wsgi_server}, {self.web_workers} {kind}"

    def start_web(self) -> None:
        if self.wsgi_server == "gunicorn":
            self.start_gunicorn()
        else:
            self.start_granian()

    def start_granian(self) -> None:
        self._spawn(
            "web",
            [
                self._bin("granian"), "--interface", "wsgi",
                "--host", self.host, "--port", str(self.wsgi_port),
                "--workers", str(self.web_workers),
                "--blocking-threads", "1",
                "--backlog", "2048",
                "--no-ws",
                "--respawn-failed-workers",
                "--workers-kill-timeout", "10",
                *(["--access-log"] if self.env.get("STACK_ACCESS_LOG") else ["--no-access-log"]),
                "redpacket.wsgi:application",
            ],
        )  # fmt: skip

    def start_gunicorn(self) -> None:
        self._spawn(
            "web",
            [
                self._bin("gunicorn"), "redpacket.wsgi:application",
                "--bind", f"{self.host}:{self.wsgi_port}",
                "--workers", str(self.web_workers),
                "--worker-class", "sync",
                "--backlog", "2048",
                "--timeout", "60",
                "--graceful-timeout", "10",
                "--no-control-socket",
                "--access-logfile", "-" if self.env.get("STACK_ACCESS_LOG") else "/dev/null",
                "--error-logfile", "-",
            ],
        )  # fmt: skip

    @property
    def daphne_names(self) -> list[str]:
        return [f"daphne-{index}" for index in range(1, len(self.asgi_ports) + 1)]

    def start_daphne(self) -> None:
        for name, port in zip(self.daphne_names, self.asgi_ports, strict=True):
            self._spawn(
                name,
                [
                    self._bin("daphne"), "-b", self.host, "-p", str(port),
                    "--proxy-headers", "redpacket.asgi:application",
                ],
            )  # fmt: skip

    def start_nginx(self) -> None:
        assert self.run_dir is not None
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            path = self.run_dir / "nginx-tmp" / sub
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)  # nginx workers may run as an unprivileged user
        is_root = os.geteuid() == 0
        config = render_template(
            TEMPLATE.read_text(),
            USER_DIRECTIVE="user nobody nogroup;" if is_root else "",
            NGINX_WORKERS=self.env.get("NGINX_WORKERS", "1"),
            RUN_DIR=str(self.run_dir),
            HOST=self.host,
            PORT=str(self.port),
            WSGI_SERVERS=upstream_servers([f"{self.host}:{self.wsgi_port}"])
            # granian keeps connections open: nginx reuses them instead of a connect each
            # request (gunicorn's sync workers close every one, so none for them).
            + ("\n        keepalive 32;" if self.wsgi_server == "granian" else ""),
            ASGI_SERVERS=upstream_servers([f"{self.host}:{port}" for port in self.asgi_ports]),
            STATIC_ROOT=str(ROOT / "staticfiles"),
        )
        conf = self.run_dir / "nginx.conf"
        conf.write_text(config)
        self._spawn("nginx", [NGINX, "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log")])

    def start_worker(self) -> subprocess.Popen:
        return self._spawn(
            "worker",
            [
                self._bin("celery"), "-A", "redpacket", "worker",
                "--loglevel=INFO", f"--concurrency={self.worker_concurrency}",
                "--pool=prefork", "--without-gossip", "--without-mingle", "--without-heartbeat",
                f"--hostname=stack-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
        )  # fmt: skip

    def wait_worker_ready(self, timeout: float = 60) -> None:
        assert self.run_dir is not None
        log = self.run_dir / "worker.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes["worker"]
            if process.poll() is not None:
                raise RuntimeError(f"the celery worker exited:\n{log.read_text()[-3000:]}")
            if log.exists() and " ready." in log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise TimeoutError("the celery worker did not become ready")

    def stop_worker(self) -> None:
        self.stop_one("worker")

    def start_beat(self) -> None:
        assert self.run_dir is not None
        self._spawn(
            "beat",
            [
                self._bin("celery"), "-A", "redpacket", "beat", "--loglevel=INFO",
                f"--schedule={self.run_dir / 'celerybeat-schedule'}",
            ],
        )  # fmt: skip

    def start(self, *, prepare: bool = True) -> Stack:
        if prepare:
            self.prepare()
        self.start_web()
        self.start_daphne()
        wait_for_port(self.host, self.wsgi_port, timeout=60, process=self.processes["web"])
        for name, port in zip(self.daphne_names, self.asgi_ports, strict=True):
            wait_for_port(self.host, port, timeout=60, process=self.processes[name])
        self.start_nginx()
        wait_for_port(self.host, self.port, timeout=30, process=self.processes["nginx"])
        if self.with_worker:
            self.start_worker()
            self.wait_worker_ready()
        if self.with_beat:
            self.start_beat()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def stop_one(self, name: str, timeout: float = 15) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        # Front first (no new requests), then the servers, then the background workers.
        for name in ("nginx", "web", *self.daphne_names, "beat", "worker"):
            self.stop_one(name)
        for name in list(self.processes):
            self.stop_one(name)

    def first_exited(self) -> str | None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name
        return None


def serve_in_foreground(
    topology: Any, label: str, *, start: Callable[[], None] | None = None
) -> int:
    """Start `topology` (a Stack or a Cluster: start, url, run_dir, pids, first_exited,
    stop), print where it serves, and keep it up until Ctrl-C or SIGTERM (0) or one of
    its processes exits (1); every process is stopped either way. `start` runs instead
    of `topology.start()` when given (a cluster also prints its checks)."""
    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        (start or topology.start)()
        print(f"serving {topology.url}  (logs in {topology.run_dir}; Ctrl-C stops everything)")
        for name, pid in topology.pids().items():
            print(f"  {name:<15} pid {pid}")
        while not stopping:
            exited = topology.first_exited()
            if exited:
                print(
                    f"{exited} exited; stopping the {label} (see {topology.run_dir}/{exited}.log)"
                )
                return 1
            time.sleep(0.5)
    finally:
        print("stopping …")
        topology.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=default_web_workers())
    parser.add_argument("--wsgi", choices=WSGI_SERVERS, default=default_wsgi_server())
    parser.add_argument("--asgi-processes", type=int, default=default_asgi_processes())
    parser.add_argument(
        "--worker-concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "4"))
    )
    parser.add_argument("--no-beat", action="store_true")
    args = parser.parse_args(argv)

    env = stack_environment()
    if not env.get("DATABASE_URL") or not env.get("REDIS_URL"):
        print("make stack needs DATABASE_URL and REDIS_URL (PostgreSQL and Redis).")
        return 2
    stack = Stack(
        env=env,
        host=args.host,
        port=args.port,
        web_workers=args.workers,
        wsgi_server=args.wsgi,
        asgi_processes=args.asgi_processes,
        worker_concurrency=args.worker_concurrency,
        with_beat=not args.no_beat,
        run_dir=RUN_DIR,
    )
    return serve_in_foreground(stack, "stack")


if __name__ == "__main__":
    sys.exit(main())
