"""Offline-safe networking helpers for axons and dendrites.

bittensor 10.5 looks up the machine's external IP over the internet with no timeout whenever an
``Axon`` is built without ``external_ip`` or a ``Dendrite`` is built at all; offline this hangs
or raises. Its axon also binds uvicorn to 0.0.0.0 whatever ``--axon.ip`` says, and
``Axon.start()`` returns before the port listens (a busy port fails silently in a background
thread). These helpers pin the external IP, detect it with a timeout when it must be detected,
bind an axon to a chosen interface, and start an axon only when its port is free, waiting until
it really serves.
"""

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "PortInUse",
    "AxonNotServing",
    "ExternalIpUnknown",
    "pin_external_ip",
    "restore_external_ip",
    "pinned_external_ip",
    "detect_external_ip",
    "port_is_free",
    "free_port",
    "wait_for_port",
    "bind_axon_host",
    "start_axon",
    "stop_axon",
]

logger = logging.getLogger(__name__)

_ORIGINAL_LOOKUP: Callable[[], str] | None = None
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "[::]", "::"})


class PortInUse(OSError):
    """The axon's port is already bound by another socket."""


class AxonNotServing(RuntimeError):
    """The axon's HTTP server did not start listening within the allowed time."""


class ExternalIpUnknown(RuntimeError):
    """The external IP could not be determined; pass ``--axon.external_ip``."""


def _networking_module() -> Any:
    import bittensor.utils.networking as networking

    return networking


def pin_external_ip(ip: str = "127.0.0.1") -> None:
    """Make bittensor's external-IP lookup return ``ip`` without touching the network.

    Call this before building a ``bt.Dendrite`` (or an ``Axon`` without ``external_ip``) on a
    machine that must stay offline. Idempotent; :func:`restore_external_ip` undoes it.
    """
    global _ORIGINAL_LOOKUP
    networking = _networking_module()
    if _ORIGINAL_LOOKUP is None:
        _ORIGINAL_LOOKUP = networking.get_external_ip

    def _pinned() -> str:
        return ip

    _pinned.pinned_ip = ip  # type: ignore[attr-defined]
    networking.get_external_ip = _pinned


def restore_external_ip() -> None:
    """Undo :func:`pin_external_ip` (no-op when nothing is pinned)."""
    global _ORIGINAL_LOOKUP
    if _ORIGINAL_LOOKUP is not None:
        _networking_module().get_external_ip = _ORIGINAL_LOOKUP
        _ORIGINAL_LOOKUP = None


@contextlib.contextmanager
def pinned_external_ip(ip: str = "127.0.0.1") -> Iterator[str]:
    """Context manager form of :func:`pin_external_ip`; restores the previous lookup on exit."""
    networking = _networking_module()
    previous = networking.get_external_ip
    pin_external_ip(ip)
    try:
        yield ip
    finally:
        networking.get_external_ip = previous


def detect_external_ip(*, timeout_s: float = 10.0) -> str:
    """The machine's public IP via bittensor's lookup, bounded by ``timeout_s`` seconds.

    bittensor's lookup has no timeout of its own, so it runs in a daemon thread that is
    abandoned when the time is up. Raises :class:`ExternalIpUnknown` on timeout or failure.
    """
    lookup = _networking_module().get_external_ip
    result: dict[str, Any] = {}

    def _run() -> None:
        try:
            result["ip"] = lookup()
        except Exception as exc:  # reported to the caller below, never swallowed
            result["error"] = exc

    thread = threading.Thread(target=_run, name="external-ip-lookup", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if "ip" in result:
        return str(result["ip"])
    if "error" in result:
        raise ExternalIpUnknown(
            f"external IP lookup failed ({result['error']}); pass --axon.external_ip"
        ) from result["error"]
    raise ExternalIpUnknown(f"external IP lookup did not answer within {timeout_s:.0f} s; pass --axon.external_ip")


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` right now (wildcard hosts test 0.0.0.0).

    SO_REUSEADDR is set as uvicorn sets it, so connections lingering in TIME_WAIT after a
    server stopped do not count as the port being taken.
    """
    bind_host = "0.0.0.0" if host in _WILDCARD_HOSTS else host
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind_host, int(port)))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS reports free on ``host`` (for tests and local networks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, *, timeout_s: float = 10.0, interval_s: float = 0.02) -> bool:
    """Poll until a TCP connection to ``host:port`` succeeds; False after ``timeout_s`` seconds."""
    connect_host = "127.0.0.1" if host in _WILDCARD_HOSTS else host
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((connect_host, int(port)), timeout=min(1.0, timeout_s)):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval_s)


def bind_axon_host(axon: Any, host: str) -> None:
    """Make the axon's uvicorn server listen on ``host`` (e.g. ``127.0.0.1`` for loopback only).

    Wildcard hosts (``[::]``, ``0.0.0.0``) keep bittensor's default of all IPv4 interfaces.
    Must be called before ``axon.start()``.
    """
    if host in _WILDCARD_HOSTS:
        return
    axon.fast_server.config.host = host.strip("[]")


def start_axon(axon: Any, *, host: str, timeout_s: float = 10.0) -> None:
    """Start ``axon`` and return only once it accepts connections on ``host:axon.port``.

    Raises :class:`PortInUse` when the port is already bound (bittensor would fail silently in
    its server thread) and :class:`AxonNotServing` when the server does not come up in time.
    """
    port = int(axon.port)
    if not port_is_free(host, port):
        raise PortInUse(f"axon port {port} on {host or '0.0.0.0'} is already in use; choose another --axon.port")
    axon.start()
    deadline = time.monotonic() + timeout_s
    while not getattr(axon.fast_server, "started", False):
        if time.monotonic() >= deadline:
            axon.stop()
            raise AxonNotServing(f"axon on port {port} did not start within {timeout_s:.0f} s")
        time.sleep(0.01)
    if not wait_for_port(host, port, timeout_s=max(0.1, deadline - time.monotonic())):
        axon.stop()
        raise AxonNotServing(f"axon reports started but port {port} does not accept connections")
    logger.info("axon listening on %s:%d", host or "0.0.0.0", port)


def stop_axon(axon: Any, *, host: str, timeout_s: float = 5.0) -> bool:
    """Stop ``axon`` and wait until its port can be bound again; False if it is still taken after ``timeout_s``."""
    axon.stop()
    deadline = time.monotonic() + timeout_s
    while not port_is_free(host, int(axon.port)):
        if time.monotonic() >= deadline:
            logger.warning("axon port %d still bound %.0f s after stop", int(axon.port), timeout_s)
            return False
        time.sleep(0.02)
    return True
