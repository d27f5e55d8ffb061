"""Throwaway PostgreSQL and Redis servers on free loopback ports, for tests and benchmarks.

:func:`start_postgres` runs ``initdb`` into a fresh temporary directory and starts ``postgres`` on
``127.0.0.1:<free port>`` (no Unix socket, trust authentication for the role ``tf``, durability
settings off: these databases only have to outlive the clients killed in a test, never the server);
:func:`start_redis` starts ``redis-server`` with persistence off. Both return a
:class:`LocalServer` whose ``url`` a store or a Redis client opens and whose ``stop()`` ends the
server and removes its directory. The binaries come from Debian's ``postgresql`` and
``redis-server`` packages (``scripts/test.sh`` installs them when missing); PostgreSQL refuses to
run as root, so under root the server runs as the ``postgres`` user the package creates.

:func:`shared_postgres` / :func:`shared_redis` start one server per process on first use and stop
it when the process exits; tests take a fresh schema on the shared PostgreSQL server
(:func:`tuneforge.store.testing.scratch_postgres_url`) and a fresh Redis key prefix, so one server
serves the whole test session.
"""

import atexit
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LocalServer", "ServiceUnavailable", "free_port", "postgres_bin", "redis_bin", "start_postgres", "start_redis",
    "shared_postgres", "shared_redis",
]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
PG_USER = "tf"
PG_DATABASE = "postgres"


class ServiceUnavailable(RuntimeError):
    """The server's binaries are not installed or the server did not start; the message says which."""


@dataclass
class LocalServer:
    """A running throwaway server: ``url`` to connect, ``stop()`` to end it (idempotent)."""

    name: str
    url: str
    port: int
    directory: Path
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # postgres: "smart" shutdown is SIGTERM; redis saves nothing here
            try:
                self.process.wait(timeout=15.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5.0)
        shutil.rmtree(self.directory, ignore_errors=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin(name: str) -> str | None:
    """Path of PostgreSQL's ``name`` binary (``initdb``, ``postgres``): Debian keeps them per version."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return candidates[-1]
    return shutil.which(name)


def redis_bin() -> str | None:
    return shutil.which("redis-server")


def _wait_for_port(port: int, process: subprocess.Popen, name: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceUnavailable(f"{name} exited with {process.returncode} on start: {_tail(log_path)}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    process.kill()
    raise ServiceUnavailable(f"{name} did not accept connections within {START_TIMEOUT_S:.0f} s: {_tail(log_path)}")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_postgres() -> LocalServer:
    """A fresh PostgreSQL cluster on a free loopback port; ``url`` is a SQLAlchemy psycopg URL.

    Raises:
        ServiceUnavailable: PostgreSQL is not installed, or the server did not start.
    """
    initdb, postgres = postgres_bin("initdb"), postgres_bin("postgres")
    if initdb is None or postgres is None:
        raise ServiceUnavailable("PostgreSQL is not installed (apt-get install -y postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tf-pg-"))
    user: str | None = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError as exc:
            raise ServiceUnavailable("running as root and there is no 'postgres' user to run PostgreSQL as") from exc
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data, log_path = root / "data", root / "server.log"
    result = subprocess.run([initdb, "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
                            user=user, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise ServiceUnavailable(f"initdb failed: {result.stderr.strip()[-400:]}")
    for _ in range(3):
        port = free_port()
        options = ["-p", str(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                   "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                   "-c", "max_connections=300", "-c", "shared_buffers=64MB"]
        with open(log_path, "ab") as out:
            process = subprocess.Popen([postgres, "-D", str(data), *options], user=user, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_for_port(port, process, "postgres", log_path)
        except ServiceUnavailable:
            if process.poll() is None:
                process.kill()
            continue  # most likely another process took the port first: try another
        url = f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"
        log.info("throwaway PostgreSQL on 127.0.0.1:%d (%s)", port, root)
        return LocalServer("postgres", url, port, root, process)
    shutil.rmtree(root, ignore_errors=True)
    raise ServiceUnavailable(f"postgres did not start: {_tail(log_path)}")


def start_redis() -> LocalServer:
    """A fresh Redis server (no persistence) on a free loopback port; ``url`` is ``redis://127.0.0.1:PORT/0``.

    Raises:
        ServiceUnavailable: redis-server is not installed, or it did not start.
    """
    binary = redis_bin()
    if binary is None:
        raise ServiceUnavailable("Redis is not installed (apt-get install -y redis-server)")
    root = Path(tempfile.mkdtemp(prefix="tf-redis-"))
    log_path = root / "server.log"
    for _ in range(3):
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(root), "--daemonize", "no", "--protected-mode", "yes", "--logfile", str(log_path)]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            _wait_for_port(port, process, "redis-server", log_path)
        except ServiceUnavailable:
            if process.poll() is None:
                process.kill()
            continue
        log.info("throwaway Redis on 127.0.0.1:%d", port)
        return LocalServer("redis", f"redis://127.0.0.1:{port}/0", port, root, process)
    shutil.rmtree(root, ignore_errors=True)
    raise ServiceUnavailable(f"redis-server did not start: {_tail(log_path)}")


_shared: dict[str, LocalServer] = {}
_shared_lock = threading.Lock()


def _shared_server(name: str, start: Callable[[], LocalServer]) -> LocalServer:
    with _shared_lock:
        server = _shared.get(name)
        if server is None or server.process.poll() is not None:
            server = start()
            _shared[name] = server
            atexit.register(server.stop)
        return server


def shared_postgres() -> LocalServer:
    """This process's throwaway PostgreSQL server (started on first call, stopped at exit)."""
    return _shared_server("postgres", start_postgres)


def shared_redis() -> LocalServer:
    """This process's throwaway Redis server (started on first call, stopped at exit)."""
    return _shared_server("redis", start_redis)
