"""The multi-node topology on one machine, in the foreground (`make cluster`).

    nginx (one local front, HOST:PORT)
      ├── /ws/  → daphne ×2             (websockets)
      └── /     → gunicorn ×2 ("web nodes": pages, /api/, admin)
    Redis Cluster, 3 masters            (cache, packet gate, facts, shake store)
    Redis ×2, plain                     (the channel layer's shards)
    pgbouncer, transaction pooling  →  PostgreSQL primary (DATABASE_URL's server)
    PostgreSQL streaming replica        (history reads; made with pg_basebackup)
    celery worker ×2 (sharing the crediting outbox) + celery beat, over RabbitMQ

What ARCHITECTURE "Growing past one machine" describes, every piece a real process of
its own, so that the failure drills (tests/cluster/) can kill one and watch the rest.
The application processes get the settings that switch it to this topology
(REDIS_CLUSTER, CHANNEL_REDIS_URLS, DATABASE_PGBOUNCER, DATABASE_REPLICA_URL); migrations
run against the primary directly, never through pgbouncer.

Ports: one block from `--base-port` (default 7101): Redis Cluster nodes base+0..2, the
channel Redis base+3..4, pgbouncer base+5, the replica base+6, web nodes base+7..8,
daphnes base+9..10. nginx listens on HOST:PORT. Ctrl-C (or SIGTERM) stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from deploy.stack import (
    NGINX,
    ROOT,
    TEMPLATE,
    render_template,
    serve_in_foreground,
    stack_environment,
    upstream_servers,
    wait_for_port,
)

RUN_DIR = ROOT / "artifacts" / "cluster"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
RABBITMQCTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
# PostgreSQL and pgbouncer refuse to run as root: started as this user when we are root.
SERVICE_USER = os.environ.get("CLUSTER_SERVICE_USER", "postgres")
REDIS_NODES = 3
# PostgreSQL connections per application process (its own pool, in front of pgbouncer's).
POOL_SIZES = {"web": 2, "daphne": 6, "worker": 2, "beat": 1}


def missing_binaries() -> list[str]:
    """What `make cluster` needs from Debian and cannot find (empty when all is there)."""
    needed = {
        "pgbouncer (apt-get install pgbouncer)": Path(PGBOUNCER),
        f"PostgreSQL server binaries in {PG_BIN} (postgresql-15)": PG_BIN / "postgres",
        "pg_basebackup": PG_BIN / "pg_basebackup",
        "redis-server": Path(REDIS_SERVER),
        "redis-cli": Path(REDIS_CLI),
        "nginx": Path(NGINX),
    }
    return [name for name, path in needed.items() if not path.exists()]


def cluster_missing() -> str | None:
    """Why the cluster cannot start here, or None (the drills' skip reason)."""
    missing = missing_binaries()
    if missing:
        return "needs " + "; ".join(missing)
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", 5672)) != 0:
            return "needs RabbitMQ on 127.0.0.1:5672 (the cluster's broker)"
    return None


def with_database(url: str, name: str) -> str:
    """`url` with its path (the database name) replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1].rsplit(":", 1)[0] if ":" in netloc[-1] else netloc[-1]
    auth = f"{netloc[0]}@" if len(netloc) == 2 else ""
    return urlunsplit((parts.scheme, f"{auth}{host}:{port}", parts.path, parts.query, ""))


def _conninfo(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or None,
        "dbname": parts.path.lstrip("/") or "postgres",
    }


def psql_value(url: str, sql: str, *, dbname: str | None = None) -> Any:
    """One value from the PostgreSQL (or pgbouncer admin console) at `url`."""
    import psycopg

    info = _conninfo(url)
    if dbname:
        info["dbname"] = dbname
    with psycopg.connect(**info, autocommit=True, connect_timeout=5) as conn:  # type: ignore[arg-type]
        conn.prepare_threshold = None
        cursor = conn.execute(sql)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


def psql_rows(url: str, sql: str, *, dbname: str | None = None) -> list[tuple]:
    import psycopg

    info = _conninfo(url)
    if dbname:
        info["dbname"] = dbname
    with psycopg.connect(**info, autocommit=True, connect_timeout=5) as conn:  # type: ignore[arg-type]
        conn.prepare_threshold = None
        return conn.execute(sql).fetchall()


def redis_cli(port: int, *args: str, timeout: float = 10) -> str:
    result = subprocess.run(
        [REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.stdout + result.stderr


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.2) -> float:
    """Poll until `predicate()` is true; the seconds it took."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if predicate():
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(interval)


@dataclass
class Cluster:
    """Every process of the topology as a child process; `start()` brings them up in
    order and checks each, `stop()` ends them all."""

    env: dict[str, str]  # the application's base environment (stack_environment)
    primary_url: str  # postgres://… of the primary's server; its database is `database`
    database: str = "redpacket_cluster"
    host: str = "127.0.0.1"
    port: int = 8000
    base_port: int = 7101
    run_dir: Path = RUN_DIR
    web_workers: int = 2  # gunicorn sync workers per web node
    worker_concurrency: int = 2
    fresh_database: bool = False  # drop and create the database first (the drills do)
    replica_wait: float = 60  # seconds to wait for the replica to accept reads
    log: bool = True
    python: str = sys.executable
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        b = self.base_port
        self.redis_ports = [b, b + 1, b + 2]
        self.channel_ports = [b + 3, b + 4]
        self.pgbouncer_port = b + 5
        self.replica_port = b + 6
        self.web_ports = [b + 7, b + 8]
        self.daphne_ports = [b + 9, b + 10]
        self.primary_db_url = with_database(self.primary_url, self.database)
        self.vhost = f"cluster-{b}"
        self.broker_url = f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}"
        self.slot = f"redpacket_cluster_{b}"
        self.timings: dict[str, float] = {}
        self._ready_seen: dict[str, int] = {}

    # --- helpers -------------------------------------------------------------------------

    def say(self, text: str) -> None:
        if self.log:
            print(text, flush=True)

    def _bin(self, name: str) -> str:
        return str(Path(self.python).parent / name)

    def _service_user(self) -> str | None:
        return SERVICE_USER if os.geteuid() == 0 else None

    def _spawn(
        self,
        name: str,
        command: list[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
    ) -> subprocess.Popen:
        log = (self.run_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env if env is not None else dict(os.environ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as one
            user=user,
            group=user,
        )
        self.processes[name] = process
        return process

    def _owned_dir(self, path: Path, *, fresh: bool) -> Path:
        """A directory the service user owns (mode 0700), emptied first if `fresh`."""
        if fresh and path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(path, SERVICE_USER, SERVICE_USER)
        path.chmod(0o700)
        return path

    # --- Redis ---------------------------------------------------------------------------

    def _redis_command(self, port: int, *, cluster: bool) -> list[str]:
        directory = self.run_dir / f"redis-{port}"
        directory.mkdir(parents=True, exist_ok=True)
        command = [
            REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
        ]  # fmt: skip
        if cluster:
            command += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(directory / "nodes.conf"),
                "--cluster-node-timeout", "2000",
                # A dead master's slots fail, the others keep serving (no replicas here).
                "--cluster-require-full-coverage", "no",
            ]  # fmt: skip
        return command

    def start_redis_cluster(self) -> None:
        for port in self.redis_ports:
            nodes = self.run_dir / f"redis-{port}" / "nodes.conf"
            nodes.unlink(missing_ok=True)  # a new cluster each start
            self._spawn(f"redis-{port}", self._redis_command(port, cluster=True))
        for port in self.redis_ports:
            wait_for_port("127.0.0.1", port, timeout=20, process=self.processes[f"redis-{port}"])
        result = subprocess.run(
            [
                REDIS_CLI, "--cluster", "create",
                *(f"127.0.0.1:{port}" for port in self.redis_ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"redis-cli --cluster create failed:\n{result.stdout}{result.stderr}"
            )
        for port in self.redis_ports:
            wait_until(lambda port=port: self.redis_cluster_ok(port), timeout=30, what="cluster ok")

    def redis_cluster_ok(self, port: int | None = None) -> bool:
        info = redis_cli(port or self.redis_ports[0], "cluster", "info")
        return "cluster_state:ok" in info and f"cluster_known_nodes:{REDIS_NODES}" in info

    def redis_node_of(self, key: str) -> int:
        """The port of the master that holds `key`'s slot."""
        slot = int(redis_cli(self.redis_ports[0], "cluster", "keyslot", key).strip())
        for line in redis_cli(self.redis_ports[0], "cluster", "nodes").splitlines():
            parts = line.split()
            if "master" not in parts[2]:
                continue
            port = int(parts[1].split("@")[0].rsplit(":", 1)[1])
            for span in parts[8:]:
                if span.startswith("["):
                    continue
                low, _, high = span.partition("-")
                if int(low) <= slot <= int(high or low):
                    return port
        raise LookupError(f"no master serves slot {slot}")

    def restart_redis_node(self, port: int) -> None:
        """Start a killed node again on its nodes.conf: it rejoins with its slots, empty."""
        self._spawn(f"redis-{port}", self._redis_command(port, cluster=True))
        wait_for_port("127.0.0.1", port, timeout=20, process=self.processes[f"redis-{port}"])

    def start_channel_redis(self) -> None:
        for port in self.channel_ports:
            self._spawn(f"channels-{port}", self._redis_command(port, cluster=False))
        for port in self.channel_ports:
            wait_for_port("127.0.0.1", port, timeout=20, process=self.processes[f"channels-{port}"])

    # --- PostgreSQL: database, replica, pgbouncer ------------------------------------------

    def prepare_database(self) -> None:
        exists = psql_value(
            self.primary_url,
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
            dbname="postgres",
        )
        if exists and self.fresh_database:
            psql_value(
                self.primary_url,
                f'DROP DATABASE "{self.database}" WITH (FORCE)',
                dbname="postgres",
            )
            exists = None
        if not exists:
            psql_value(self.primary_url, f'CREATE DATABASE "{self.database}"', dbname="postgres")
        # Migrations against the primary itself: DDL and advisory locks do not belong in
        # a transaction-pooled connection.
        env = {**self.env, "DATABASE_URL": self.primary_db_url, "DB_POOL_MAX_SIZE": "0"}
        for key in ("DATABASE_PGBOUNCER", "DATABASE_REPLICA_URL", "REDIS_CLUSTER"):
            env.pop(key, None)
        env["REDIS_URL"] = ""
        manage = [self.python, str(ROOT / "manage.py")]
        for args in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(
                [*manage, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
            )

    def ensure_replication_access(self) -> None:
        """pg_basebackup needs a `replication` line in the primary's pg_hba.conf; add the
        loopback one (as trusting as its `all` line) when it is missing and we may."""
        rows = psql_rows(
            self.primary_url,
            "SELECT type, database, address FROM pg_hba_file_rules WHERE error IS NULL",
            dbname="postgres",
        )
        for kind, databases, address in rows:
            if "replication" in (databases or []) and (
                kind == "local" or address in ("127.0.0.1",)
            ):
                return
        hba = Path(str(psql_value(self.primary_url, "SHOW hba_file", dbname="postgres")))
        if not os.access(hba, os.W_OK):
            raise RuntimeError(
                f"the primary refuses replication connections: add\n"
                f"  host replication all 127.0.0.1/32 trust\nto {hba} and reload PostgreSQL"
            )
        with hba.open("a") as file:
            file.write("\n# make cluster: the streaming replica on loopback\n")
            file.write("host replication all 127.0.0.1/32 trust\n")
        psql_value(self.primary_url, "SELECT pg_reload_conf()", dbname="postgres")
        self.say(f"added a loopback replication line to {hba}")

    def start_replica(self) -> None:
        self.ensure_replication_access()
        primary = _conninfo(self.primary_url)
        # A slot keeps the WAL the replica still needs while it is stopped (the drill);
        # the one of an earlier run that was not stopped cleanly goes first.
        psql_value(
            self.primary_url,
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            f" WHERE slot_name = '{self.slot}' AND NOT active",
            dbname="postgres",
        )
        data = self._owned_dir(self.run_dir / "replica", fresh=True)
        started = time.monotonic()
        subprocess.run(
            [
                str(PG_BIN / "pg_basebackup"),
                "-h", str(primary["host"]), "-p", str(primary["port"]),
                "-U", str(primary["user"]), "-D", str(data), "-R", "-X", "stream",
                "-C", "-S", self.slot, "--checkpoint=fast", "--no-sync",
            ],
            check=True, capture_output=True, timeout=300,
            user=self._service_user(), group=self._service_user(),
        )  # fmt: skip
        self.timings["pg_basebackup"] = time.monotonic() - started
        settings = {
            name: psql_value(self.primary_url, f"SHOW {name}", dbname="postgres")
            for name in (
                "max_connections", "max_worker_processes", "max_wal_senders",
                "max_prepared_transactions", "max_locks_per_transaction",
            )
        }  # fmt: skip
        conf = data / "postgresql.conf"
        conf.write_text(
            "# the streaming replica of make cluster (deploy/cluster.py)\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.replica_port}\n"
            "unix_socket_directories = ''\n"
            "hot_standby = on\n"
            "shared_buffers = 32MB\n"
            "fsync = off\n"
            "logging_collector = off\n"
            # Hot standby needs these at least as high as on the primary.
            + "".join(f"{name} = {value}\n" for name, value in settings.items())
        )
        (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        for path in (conf, data / "pg_hba.conf"):
            if os.geteuid() == 0:
                shutil.chown(path, SERVICE_USER, SERVICE_USER)
        self.start_replica_server()

    def start_replica_server(self) -> None:
        data = self.run_dir / "replica"
        self._spawn(
            "replica",
            [str(PG_BIN / "postgres"), "-D", str(data)],
            user=self._service_user(),
        )
        wait_for_port("127.0.0.1", self.replica_port, timeout=60, process=self.processes["replica"])
        try:
            wait_until(self.replica_streaming, timeout=self.replica_wait, what="replica streaming")
        except TimeoutError:
            # A hot standby opens for reads only once the primary logs a snapshot without
            # overflowed subtransactions: a long transaction with many savepoints on a
            # shared primary (a test session) delays that. The application reads from the
            # primary meanwhile (DATABASE_REPLICA_URL's fallback), so carry on.
            self.say(
                f"the replica does not accept reads yet after {self.replica_wait:.0f}s "
                "(history reads go to the primary until it does)"
            )

    @property
    def replica_url(self) -> str:
        return with_port(self.primary_db_url, self.replica_port)

    def replica_streaming(self) -> bool:
        in_recovery = psql_value(self.replica_url, "SELECT pg_is_in_recovery()")
        receiving = psql_value(self.replica_url, "SELECT status FROM pg_stat_wal_receiver")
        return in_recovery is True and receiving == "streaming"

    def start_pgbouncer(self) -> None:
        primary = _conninfo(self.primary_url)
        directory = self._owned_dir(self.run_dir / "pgbouncer", fresh=False)
        userlist = directory / "userlist.txt"
        userlist.write_text(f'"{primary["user"]}" ""\n')
        ini = directory / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"{self.database} = host={primary['host']} port={primary['port']}"
            f" dbname={self.database}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.pgbouncer_port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {userlist}\n"
            f"admin_users = {primary['user']}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 1000\n"
            "default_pool_size = 20\n"
            "reserve_pool_size = 5\n"
            "server_reset_query =\n"
            "ignore_startup_parameters = extra_float_digits,options,application_name\n"
        )
        for path in (userlist, ini):
            if os.geteuid() == 0:
                shutil.chown(path, SERVICE_USER, SERVICE_USER)
        self._spawn("pgbouncer", [PGBOUNCER, str(ini)], user=self._service_user())
        wait_for_port(
            "127.0.0.1", self.pgbouncer_port, timeout=20, process=self.processes["pgbouncer"]
        )

    @property
    def pgbouncer_url(self) -> str:
        return with_port(self.primary_db_url, self.pgbouncer_port)

    def pgbouncer_pools(self) -> list[dict[str, object]]:
        """pgbouncer's SHOW POOLS, a row per pool (database, user, cl_active, sv_active, …)."""
        import psycopg
        from psycopg.rows import dict_row

        info = _conninfo(self.pgbouncer_url)
        info["dbname"] = "pgbouncer"
        with psycopg.connect(**info, autocommit=True, connect_timeout=5) as conn:  # type: ignore[arg-type]
            conn.prepare_threshold = None
            return conn.cursor(row_factory=dict_row).execute("SHOW POOLS").fetchall()

    # --- RabbitMQ --------------------------------------------------------------------------

    def prepare_broker(self) -> None:
        """A vhost of this cluster's own, so its queues meet no other run's; the default
        vhost when rabbitmqctl cannot make one."""
        try:
            vhosts = subprocess.run(
                [RABBITMQCTL, "-q", "list_vhosts"], capture_output=True, text=True, timeout=60
            )
            if self.vhost not in vhosts.stdout.split():
                subprocess.run(
                    [RABBITMQCTL, "-q", "add_vhost", self.vhost], check=True, capture_output=True,
                    timeout=60,
                )  # fmt: skip
            subprocess.run(
                [RABBITMQCTL, "-q", "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            self.broker_url = "amqp://guest:guest@127.0.0.1:5672//"
            self.say("rabbitmqctl unavailable: the cluster uses RabbitMQ's default vhost")

    # --- the application ---------------------------------------------------------------------

    def app_env(self, kind: str) -> dict[str, str]:
        env = dict(self.env)
        env.update(
            {
                "DATABASE_URL": self.pgbouncer_url,
                "DATABASE_PGBOUNCER": "1",
                "DATABASE_REPLICA_URL": self.replica_url,
                "REDIS_URL": f"redis://127.0.0.1:{self.redis_ports[0]}/0",
                "REDIS_CLUSTER": "1",
                "CHANNEL_REDIS_URLS": ",".join(
                    f"redis://127.0.0.1:{port}" for port in self.channel_ports
                ),
                "CELERY_BROKER_URL": self.broker_url,
                "CELERY_TASK_ALWAYS_EAGER": "0",
            }
        )
        env.setdefault("DB_POOL_MAX_SIZE", str(POOL_SIZES[kind]))
        return env

    def start_web(self, index: int) -> None:
        port = self.web_ports[index]
        self._spawn(
            f"web{index + 1}",
            [
                self._bin("gunicorn"), "redpacket.wsgi:application",
                "--bind", f"127.0.0.1:{port}", "--workers", str(self.web_workers),
                "--worker-class", "sync", "--timeout", "60", "--graceful-timeout", "5",
                "--no-control-socket", "--access-logfile", "/dev/null", "--error-logfile", "-",
            ],
            env=self.app_env("web"),
        )  # fmt: skip

    def wait_web(self, index: int) -> None:
        process = self.processes[f"web{index + 1}"]
        wait_for_port("127.0.0.1", self.web_ports[index], timeout=90, process=process)

    def start_daphne(self, index: int) -> None:
        port = self.daphne_ports[index]
        self._spawn(
            f"daphne{index + 1}",
            [
                self._bin("daphne"), "-b", "127.0.0.1", "-p", str(port), "--proxy-headers",
                "redpacket.asgi:application",
            ],
            env=self.app_env("daphne"),
        )  # fmt: skip

    def start_nginx(self) -> None:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            path = self.run_dir / "nginx-tmp" / sub
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o777)
        # A node that refuses a connection is passed over for 2 s (then tried again); a
        # request it refused goes to the other node (`proxy_next_upstream error`, nginx's
        # default, even for a POST: a refused connection carried nothing).
        options = "max_fails=1 fail_timeout=2s"
        config = render_template(
            TEMPLATE.read_text(),
            USER_DIRECTIVE="user nobody nogroup;" if os.geteuid() == 0 else "",
            NGINX_WORKERS=self.env.get("NGINX_WORKERS", "1"),
            RUN_DIR=str(self.run_dir),
            HOST=self.host,
            PORT=str(self.port),
            WSGI_SERVERS=upstream_servers([f"127.0.0.1:{p}" for p in self.web_ports], options),
            ASGI_SERVERS=upstream_servers([f"127.0.0.1:{p}" for p in self.daphne_ports], options),
            STATIC_ROOT=str(ROOT / "staticfiles"),
        )
        conf = self.run_dir / "nginx.conf"
        conf.write_text(config)
        self._spawn("nginx", [NGINX, "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log")])
        wait_for_port(self.host, self.port, timeout=30, process=self.processes["nginx"])

    def start_worker(self, index: int) -> None:
        log = self.run_dir / f"worker{index + 1}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        self._ready_seen[f"worker{index + 1}"] = text.count(" ready.")
        self._spawn(
            f"worker{index + 1}",
            [
                self._bin("celery"), "-A", "redpacket", "worker", "--loglevel=INFO",
                f"--concurrency={self.worker_concurrency}", "--pool=prefork",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                f"--hostname=cluster{self.base_port}-worker{index + 1}@%h",
            ],
            env=self.app_env("worker"),
        )  # fmt: skip

    def worker_ready(self, index: int) -> bool:
        name = f"worker{index + 1}"
        process = self.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited; see {self.run_dir / name}.log")
        log = (self.run_dir / f"{name}.log").read_text(errors="replace")
        return log.count(" ready.") > self._ready_seen.get(name, 0)

    def start_beat(self) -> None:
        self._spawn(
            "beat",
            [
                self._bin("celery"), "-A", "redpacket", "beat", "--loglevel=INFO",
                f"--schedule={self.run_dir / 'celerybeat-schedule'}",
            ],
            env=self.app_env("beat"),
        )  # fmt: skip

    # --- all of it -------------------------------------------------------------------------

    def start(self) -> Cluster:
        for old_log in self.run_dir.glob("*.log"):
            old_log.unlink()
        steps = [
            ("redis cluster", self.start_redis_cluster),
            ("channel redis", self.start_channel_redis),
            ("database", self.prepare_database),
            ("replica", self.start_replica),
            ("pgbouncer", self.start_pgbouncer),
            ("broker", self.prepare_broker),
            ("application", self.start_application),
        ]
        for name, step in steps:
            started = time.monotonic()
            self.say(f"  {name} …")
            step()
            self.timings[name] = time.monotonic() - started
        return self

    def start_application(self) -> None:
        for index in range(2):
            self.start_web(index)
            self.start_daphne(index)
        for index in range(2):
            self.start_worker(index)
        for index in range(2):
            self.wait_web(index)
            wait_for_port(
                "127.0.0.1",
                self.daphne_ports[index],
                timeout=90,
                process=self.processes[f"daphne{index + 1}"],
            )
        self.start_nginx()
        for index in range(2):
            wait_until(
                lambda index=index: self.worker_ready(index), timeout=90, what="worker ready"
            )
        self.start_beat()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def checks(self) -> dict[str, str]:
        """Each piece's own word that it is up (what `make cluster` prints)."""
        out: dict[str, str] = {}
        info = redis_cli(self.redis_ports[0], "cluster", "info")
        state = dict(line.strip().split(":", 1) for line in info.splitlines() if ":" in line)
        out["redis cluster"] = (
            f"cluster_state:{state.get('cluster_state')} "
            f"known_nodes:{state.get('cluster_known_nodes')} "
            f"slots_assigned:{state.get('cluster_slots_assigned')}"
        )
        for port in self.channel_ports:
            out[f"channels {port}"] = redis_cli(port, "ping").strip()
        pools = self.pgbouncer_pools()
        out["pgbouncer"] = "SHOW POOLS: " + ", ".join(
            f"{row['database']}/{row['user']} pool_mode={row.get('pool_mode')}"
            f" cl_active={row['cl_active']} sv_active={row['sv_active']} sv_idle={row['sv_idle']}"
            for row in pools
            if row["database"] == self.database
        )
        in_recovery = psql_value(self.replica_url, "SELECT pg_is_in_recovery()")
        lag = psql_value(
            self.replica_url,
            "SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)",
        )
        out["replica"] = f"pg_is_in_recovery={in_recovery} replay_lag≈{float(lag or 0):.1f}s"
        return out

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill one process (its whole process group) the way a lost machine would."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def pause(self, name: str) -> None:
        """Freeze one process group (SIGSTOP): alive, connected, doing nothing."""
        os.killpg(self.processes[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.killpg(self.processes[name].pid, signal.SIGCONT)

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
        order = ["nginx", "web1", "web2", "daphne1", "daphne2", "beat", "worker1", "worker2"]
        for name in order + [n for n in self.processes if n not in order]:
            self.stop_one(name)
        with contextlib.suppress(Exception):
            psql_value(
                self.primary_url,
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                f" WHERE slot_name = '{self.slot}' AND NOT active",
                dbname="postgres",
            )

    def first_exited(self) -> str | None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--base-port", type=int, default=int(os.environ.get("CLUSTER_BASE_PORT", "7101"))
    )
    parser.add_argument(
        "--database", default=os.environ.get("CLUSTER_DATABASE", "redpacket_cluster")
    )
    args = parser.parse_args(argv)

    missing = missing_binaries()
    if missing:
        print("make cluster needs: " + "; ".join(missing))
        return 2
    primary = os.environ.get("DATABASE_URL", "")
    if not primary.startswith(("postgres://", "postgresql://")):
        print("make cluster needs DATABASE_URL=postgres://… (its server is the primary)")
        return 2
    env = stack_environment(secrets_dir=RUN_DIR)
    cluster = Cluster(
        env=env,
        primary_url=primary,
        database=args.database,
        host=args.host,
        port=args.port,
        base_port=args.base_port,
    )

    def start() -> None:
        print("starting the cluster:")
        cluster.start()
        for name, value in cluster.checks().items():
            print(f"  {name:<15} {value}")

    return serve_in_foreground(cluster, "cluster", start=start)


if __name__ == "__main__":
    sys.exit(main())
