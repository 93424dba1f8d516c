"""The bot as a fleet on one machine: PostgreSQL, Redis, HAProxy, several Rasa replicas and action servers.

A city's bot runs several Rasa replicas behind a load balancer, with conversations in
PostgreSQL (Rasa's SQL tracker store, redacting), Rasa's Redis lock store so that two messages
of one resident are answered in order whichever replica gets them, the project's store on
PostgreSQL, and several alert workers sharing one send budget through Redis. ``make fleet``
(``fraudbot fleet``) starts that layout here, and the fleet tests and ``bench/fleet.py`` use the
same code, so what is tested is what is started.

The engines are Debian's packages (``make fleet-system`` installs them): PostgreSQL runs from
its own binaries on a data directory of ours (as the ``postgres`` user when we are root, since
PostgreSQL refuses to run as root), Redis without persistence (it holds locks and budgets, which
may be lost), HAProxy in the foreground with a generated configuration. Everything listens on
127.0.0.1.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.processes import LOOPBACK, action_endpoints, free_port, spawn, stop, wait_http

PG_USER = "fraudbot"
"""The database role the bot connects as (the cluster's superuser in this layout)."""


class EngineMissing(RuntimeError):
    """A Debian package the fleet needs is not installed (``make fleet-system``)."""


def postgres_bin() -> Path:
    """The newest PostgreSQL server binaries Debian installed (``/usr/lib/postgresql/<major>/bin``)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise EngineMissing("PostgreSQL is not installed: make fleet-system (apt-get install postgresql)")
    return found[-1].parent


def _require(program: str, package: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}" if Path(f"/usr/sbin/{program}").exists() else None)
    if not path:
        raise EngineMissing(f"{program} is not installed: make fleet-system (apt-get install {package})")
    return path


def _wait(condition, seconds: float, what: str, process: subprocess.Popen | None = None) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} was not ready within {seconds:.0f} s")


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


@dataclass
class Postgres:
    """A PostgreSQL cluster in ``directory``, listening on 127.0.0.1:``port``, trusting local connections.

    The data survives a restart (``make fleet`` keeps it under ``var/fleet``); tests give a
    temporary directory. As root the server runs as the ``postgres`` user, so ``directory`` must
    be reachable by that user (not under a 0700 directory such as pytest's temporary root).
    """

    directory: Path
    port: int = field(default_factory=free_port)
    durable: bool = True
    process: subprocess.Popen | None = None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "fraudbot", driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{PG_USER}@{LOOPBACK}:{self.port}/{database}"

    def _as_owner(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres"}

    def start(self) -> Postgres:
        binaries = postgres_bin()
        self.directory.mkdir(parents=True, exist_ok=True)
        sockets = self.directory / "sockets"
        sockets.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.directory, sockets, *([self.data] if self.data.exists() else [])):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run([str(binaries / "initdb"), "-D", str(self.data), "-U", PG_USER, "--auth=trust",
                            "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
                           check=True, capture_output=True, **self._as_owner())
        settings = ["-c", f"listen_addresses={LOOPBACK}", "-c", "max_connections=200"]
        if not self.durable:  # tests: a crash loses the cluster anyway
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process = subprocess.Popen(
            [str(binaries / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(sockets), *settings],
            stdout=subprocess.DEVNULL, stderr=open(self.directory / "postgres.log", "ab"),
            **self._as_owner())
        _wait(self.ready, 60, "PostgreSQL", self.process)
        return self

    def ready(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(host=LOOPBACK, port=self.port, user=PG_USER, dbname="postgres",
                             connect_timeout=1).close()
            return True
        except psycopg2.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        """Create ``name`` unless it exists; its SQLAlchemy URL."""
        import psycopg2

        connection = psycopg2.connect(host=LOOPBACK, port=self.port, user=PG_USER, dbname="postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open client connections do not hold it up, committed data is kept."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Redis:
    """A Redis server on 127.0.0.1:``port`` without persistence: it holds locks and send budgets only."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> Redis:
        server = _require("redis-server", "redis-server")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [server, "--bind", LOOPBACK, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(self.ready, 30, "Redis", self.process)
        return self

    def ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=LOOPBACK, port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace=10)


@dataclass
class Frontend:
    """One HAProxy frontend: ``port`` spread round-robin over ``servers``, each checked at ``health``."""

    name: str
    port: int
    servers: list[int]
    health: str


def haproxy_config(frontends: Iterable[Frontend], stats_socket: Path | None = None) -> str:
    """HAProxy's configuration for the fleet.

    A replica that stops answering is taken out after three failed checks (1 s apart, each given
    5 s: a busy replica answers its check late, and must not be taken out for it); a request
    that finds its connection refused or closed before any answer is retried once on another
    server (``retry-on conn-failure empty-response``, ``option redispatch``). The Redis lock
    store makes that retry safe for a conversation: the retried message waits for the lock of
    the killed replica to expire instead of interleaving with it. ``stats_socket`` lets
    :meth:`LoadBalancer.servers` read which servers the checks consider up.
    """
    stats = [f"    stats socket {stats_socket} mode 600 level user"] if stats_socket else []
    lines = ["global", "    maxconn 4096", *stats, "", "defaults", "    mode http", "    timeout connect 1s",
             "    timeout client 120s", "    timeout server 120s", "    timeout http-request 10s",
             "    timeout check 5s",
             "    option http-buffer-request", "    option redispatch 1", "    retries 2",
             "    retry-on conn-failure empty-response", ""]
    for front in frontends:
        lines += [f"frontend {front.name}", f"    bind {LOOPBACK}:{front.port}", f"    default_backend {front.name}",
                  "", f"backend {front.name}", "    balance roundrobin",
                  f"    option httpchk GET {front.health}", "    http-check expect status 200"]
        lines += [f"    server {front.name}{index} {LOOPBACK}:{port} check inter 1s fall 3 rise 1"
                  for index, port in enumerate(front.servers, 1)]
        lines.append("")
    return "\n".join(lines)


@dataclass
class LoadBalancer:
    """HAProxy in the foreground with :func:`haproxy_config`."""

    directory: Path
    frontends: list[Frontend]
    process: subprocess.Popen | None = None

    def start(self) -> LoadBalancer:
        binary = _require("haproxy", "haproxy")
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "haproxy.cfg"
        config.write_text(haproxy_config(self.frontends, self.socket), encoding="utf-8")
        subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True)
        with open(self.directory / "haproxy.log", "ab") as log:  # errors and failed requests only
            self.process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=log)
        _wait(lambda: all(_port_open(front.port) for front in self.frontends), 20, "HAProxy", self.process)
        return self

    @property
    def socket(self) -> Path:
        return self.directory / "stats.sock"

    def servers(self) -> dict[str, str]:
        """``{"rasa/rasa1": "UP", …}``: what HAProxy's health checks say of each server now."""
        import socket

        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(2)
            connection.connect(str(self.socket))
            connection.sendall(b"show stat\n")
            data = b""
            while chunk := connection.recv(65536):
                data += chunk
        rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
        return {f"{row[0]}/{row[1]}": row[17] for row in rows if row[1] not in ("FRONTEND", "BACKEND")}

    def wait_up(self, seconds: float = 30) -> None:
        """Until every server passed its first check (HAProxy starts them as down and refuses requests)."""
        _wait(lambda: all(state.startswith("UP") for state in self.servers().values()), seconds,
              "HAProxy's servers", self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, grace=10)


def rasa_endpoints(actions_url: str, postgres: Postgres, redis_server: Redis, database: str = "rasa") -> str:
    """``endpoints.yml`` of a replica: actions and NLG through the balancer, PostgreSQL, Redis locks."""
    return (action_endpoints(actions_url)
            + "tracker_store:\n  type: bot.tracker_store.RedactingSQLTrackerStore\n  dialect: postgresql\n"
            f"  url: {LOOPBACK}\n  port: {postgres.port}\n  db: {database}\n  username: {PG_USER}\n"
            "lock_store:\n  type: bot.lock_store.AtomicRedisLockStore\n"
            f"  url: {LOOPBACK}\n  port: {redis_server.port}\n  db: 1\n  key_prefix: fraudbot\n  socket_timeout: 10\n")


def create_tracker_schema(postgres: Postgres, database: str = "rasa") -> None:
    """Rasa's ``events`` table, made once before the replicas start (two replicas creating it at
    the same moment race on PostgreSQL's catalogue and one of them fails to start)."""
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore(dialect="postgresql", host=LOOPBACK, port=postgres.port, db=database, username=PG_USER)


@dataclass
class Fleet:
    """The whole layout: ``replicas`` Rasa servers and ``action_servers`` action servers behind
    HAProxy, ``workers`` alert workers, PostgreSQL and Redis, in ``directory``.

    ``url`` is the balancer's Rasa frontend (what residents' channels reach), ``replica_urls``
    each replica directly (tests address them one by one).
    """

    directory: Path
    model: Path
    replicas: int = 2
    action_servers: int = 2
    workers: int = 0
    admin_port: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    durable: bool = True
    postgres: Postgres | None = None
    redis: Redis | None = None
    balancer: LoadBalancer | None = None
    rasa: list[subprocess.Popen] = field(default_factory=list)
    rasa_ports: list[int] = field(default_factory=list)
    actions: list[subprocess.Popen] = field(default_factory=list)
    alert_workers: list[subprocess.Popen] = field(default_factory=list)
    admin: subprocess.Popen | None = None
    url: str = ""
    actions_url: str = ""

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://{LOOPBACK}:{port}" for port in self.rasa_ports]

    @property
    def store_url(self) -> str:
        assert self.postgres is not None
        return self.postgres.url("fraudbot")

    def process_env(self) -> dict[str, str]:
        """What every process of the fleet shares: the store on PostgreSQL, Redis for budgets."""
        assert self.postgres is not None and self.redis is not None
        # Rasa's lock per conversation lives 60 s by default: a replica killed while holding one
        # would freeze that conversation for a minute. 10 s is far above a message's handling.
        return {"TICKET_LOCK_LIFETIME": "10", **self.env, "FRAUDBOT_DB_URL": self.store_url,
                "FRAUDBOT_REDIS_URL": self.redis.url}

    def start(self) -> Fleet:
        from bot.migrations import upgrade

        self.directory.mkdir(parents=True, exist_ok=True)
        logs = self.directory / "logs"
        logs.mkdir(exist_ok=True)
        self.postgres = Postgres(self.directory / "postgres", durable=self.durable).start()
        self.redis = Redis(self.directory / "redis").start()
        self.postgres.create_database("fraudbot")
        self.postgres.create_database("rasa")
        upgrade(self.store_url)
        create_tracker_schema(self.postgres)
        env = self.process_env()

        action_ports = [free_port() for _ in range(self.action_servers)]
        self.actions = [spawn("actions.server", "--port", str(port), log=logs / f"actions-{port}.log", env=env)
                        for port in action_ports]
        self.rasa_ports = [free_port() for _ in range(self.replicas)]
        rasa_front, actions_front = free_port(), free_port()
        self.balancer = LoadBalancer(self.directory / "haproxy", [
            Frontend("rasa", rasa_front, self.rasa_ports, "/"),
            Frontend("actions", actions_front, action_ports, "/health")]).start()
        self.url, self.actions_url = f"http://{LOOPBACK}:{rasa_front}", f"http://{LOOPBACK}:{actions_front}"
        endpoints = self.directory / "endpoints.yml"
        endpoints.write_text(rasa_endpoints(self.actions_url, self.postgres, self.redis), encoding="utf-8")
        for process, port in zip(self.actions, action_ports, strict=True):
            wait_http(f"http://{LOOPBACK}:{port}/health", 90, process)
        self.rasa = [self.start_replica(port, endpoints, env, logs) for port in self.rasa_ports]
        for process, url in zip(self.rasa, self.replica_urls, strict=True):
            wait_http(f"{url}/webhooks/rest/", 300, process)
        self.balancer.wait_up()
        self.alert_workers = [spawn("bot.cli", "alert", "worker", log=logs / f"worker-{n}.log", env=env)
                              for n in range(self.workers)]
        if self.admin_port:  # puts a retrained model live on every replica (PUT /model)
            self.admin = spawn("bot.cli", "admin", "serve", "--port", str(self.admin_port), log=logs / "admin.log",
                               env={**env, "FRAUDBOT_RASA_URLS": ",".join(self.replica_urls)})
            wait_http(f"http://{LOOPBACK}:{self.admin_port}/admin/login", 90, self.admin)
        return self

    def start_replica(self, port: int, endpoints: Path, env: Mapping[str, str], logs: Path) -> subprocess.Popen:
        return spawn("bot.rasa_server", "run", "-m", str(self.model), "--endpoints", str(endpoints),
                     "--credentials", str(self.directory / "credentials.yml") if (
                         self.directory / "credentials.yml").exists() else "credentials.yml",
                     "--port", str(port), "-i", LOOPBACK, "--enable-api",
                     log=logs / f"rasa-{port}.log", env=env)

    def stop(self) -> None:
        for process in [*([self.admin] if self.admin else []), *self.alert_workers, *self.rasa, *self.actions]:
            stop(process)
        for engine in (self.balancer, self.redis, self.postgres):
            if engine is not None:
                engine.stop()


def main(argv: list[str] | None = None) -> int:
    """``make fleet``: the whole layout on this machine, in the foreground, until Ctrl-C or SIGTERM.

    Data (PostgreSQL) is kept in ``var/fleet``; Redis holds only locks and budgets. A replica or
    action server that dies is taken out by HAProxy; on a server, systemd restarts each unit
    (README, "Production layout").
    """
    import argparse
    import secrets

    from bot.config import TOKEN_ENV, rasa_token
    from bot.processes import PROJECT_ROOT

    parser = argparse.ArgumentParser(prog="python -m bot.fleet", description=main.__doc__)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--action-servers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--admin-port", type=int, default=5002)
    parser.add_argument("--dir", type=Path, default=PROJECT_ROOT / "var" / "fleet")
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "fraudbot.tar.gz")
    args = parser.parse_args(argv)
    env = {TOKEN_ENV: rasa_token() or secrets.token_urlsafe(24)}
    fleet = Fleet(args.dir.resolve(), args.model.resolve(), args.replicas, args.action_servers, args.workers,
                  admin_port=args.admin_port, env=env)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        fleet.start()
        print(f"residents (REST, Telegram/WeChat webhooks) through HAProxy: {fleet.url}/webhooks/rest/webhook")
        print(f"replicas: {', '.join(fleet.replica_urls)}; action servers through HAProxy: {fleet.actions_url}")
        print(f"store: {fleet.store_url}; Redis: {fleet.redis.url if fleet.redis else ''}")
        print(f"web admin: http://{LOOPBACK}:{args.admin_port}/admin/   logs: {args.dir / 'logs'}   Ctrl-C stops")
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
