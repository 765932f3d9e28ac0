"""Real Redis for the cluster tests: a 3-master Redis Cluster and two plain Redis shards,
started from the machine's redis-server and redis-cli in a temporary folder and shut down
after the session (the `redis_nodes` fixture in tests/conftest.py).

Ports come from REDIS_TEST_PORTS (default 7201–7299): each start takes the first block
of five free ports there, so two runs side by side do not meet.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MASTERS = 3
SHARDS = 2


def missing_tools() -> str | None:
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            return f"needs {tool} (apt-get install redis-server) for the Redis Cluster tests"
    return None


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _free_block(size: int) -> list[int]:
    first, last = (int(p) for p in os.environ.get("REDIS_TEST_PORTS", "7201-7299").split("-"))
    for start in range(first, last - size + 2, 10):
        block = list(range(start, start + size))
        if all(_port_free(port) for port in block):
            return block
    raise RuntimeError(f"no {size} free ports in {first}-{last} for the Redis test nodes")


def _wait_for(port: int, ready: str = "PONG", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
        )
        if answer.stdout.strip() == ready:
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server on port {port} did not start")


@dataclass
class RedisNodes:
    cluster_ports: list[int]
    shard_ports: list[int]
    folder: Path
    started: list[int] = field(default_factory=list)

    @property
    def cluster_url(self) -> str:
        """One node of the cluster, as REDIS_URL names it with REDIS_CLUSTER=1."""
        return f"redis://127.0.0.1:{self.cluster_ports[0]}/0"

    @property
    def shard_urls(self) -> list[str]:
        """The plain Redis hosts, as CHANNEL_REDIS_URLS lists them."""
        return [f"redis://127.0.0.1:{port}/0" for port in self.shard_ports]

    def _start(self, port: int, *cluster_args: str) -> None:
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / f"redis-{port}.log"),
                "--pidfile",
                str(self.folder / f"redis-{port}.pid"),
                *cluster_args,
            ],
            check=True,
            capture_output=True,
        )
        self.started.append(port)
        _wait_for(port)

    def start(self) -> None:
        for port in self.cluster_ports:
            self._start(
                port,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self.folder / f"nodes-{port}.conf"),
            )
        for port in self.shard_ports:
            self._start(port)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.cluster_ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = subprocess.run(
                ["redis-cli", "-p", str(self.cluster_ports[0]), "cluster", "info"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if "cluster_state:ok" in info:
                return
            time.sleep(0.1)
        raise RuntimeError("the test Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for port in self.started:
            subprocess.run(
                ["redis-cli", "-p", str(port), "shutdown", "nosave"],
                capture_output=True,
                check=False,
            )
        self.started.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_nodes() -> RedisNodes:
    ports = _free_block(MASTERS + SHARDS)
    nodes = RedisNodes(
        cluster_ports=ports[:MASTERS],
        shard_ports=ports[MASTERS:],
        folder=Path(tempfile.mkdtemp(prefix="redpacket-redis-")),
    )
    try:
        nodes.start()
    except BaseException:
        nodes.stop()
        raise
    return nodes
