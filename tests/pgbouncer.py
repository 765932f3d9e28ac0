"""A real pgbouncer in transaction mode in front of the test PostgreSQL (the `pgbouncer`
fixture in tests/test_pgbouncer.py), with a small server pool so that one client's
transactions do run on different server connections.

Ports from PGBOUNCER_TEST_PORTS (default 7290–7299): the first free one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
SERVER_POOL_SIZE = 3


def missing() -> str | None:
    if not Path(BINARY).exists():
        return "needs pgbouncer (apt-get install pgbouncer)"
    return None


def _free_port() -> int:
    first, last = (int(p) for p in os.environ.get("PGBOUNCER_TEST_PORTS", "7290-7299").split("-"))
    for port in range(first, last + 1):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {first}-{last} for pgbouncer")


@dataclass
class Bouncer:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text() if path.exists() else ""


def start(*, host: str, port: int, user: str) -> Bouncer:
    folder = Path(tempfile.mkdtemp(prefix="redpacket-pgbouncer-"))
    listen = _free_port()
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={host} port={port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {listen}",
                "auth_type = trust",
                f"admin_users = {user}",
                f"auth_file = {folder / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {SERVER_POOL_SIZE}",
                "max_client_conn = 200",
                f"logfile = {folder / 'pgbouncer.log'}",
                f"unix_socket_dir = {folder}",
                "ignore_startup_parameters = extra_float_digits,options",
                "",
            ]
        )
    )
    command = [BINARY, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        shutil.chown(folder, "postgres")
        for name in ("users.txt", "pgbouncer.ini"):
            shutil.chown(folder / name, "postgres")
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    bouncer = Bouncer(port=listen, folder=folder, process=process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"pgbouncer did not start: {error}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", listen)) == 0:
                return bouncer
        time.sleep(0.05)
    bouncer.stop()
    raise RuntimeError("pgbouncer did not listen in time")
