"""Offline networking helpers: pinned external IP, port checks, axon binding."""

import socket
from types import SimpleNamespace

import bittensor.utils.networking as networking
import pytest

from tuneforge import netutils
from tuneforge.netutils import (
    ExternalIpUnknown,
    bind_axon_host,
    detect_external_ip,
    free_port,
    pinned_external_ip,
    port_is_free,
    wait_for_port,
)


def test_pinned_ip_is_used_and_restored():
    original = networking.get_external_ip
    with pinned_external_ip("127.0.0.9"):
        assert networking.get_external_ip() == "127.0.0.9"
        assert detect_external_ip(timeout_s=1) == "127.0.0.9"
    assert networking.get_external_ip is original


def test_pin_and_restore():
    original = networking.get_external_ip
    netutils.pin_external_ip("127.0.0.5")
    netutils.pin_external_ip("127.0.0.6")  # idempotent: restore still returns to the original
    try:
        assert networking.get_external_ip() == "127.0.0.6"
    finally:
        netutils.restore_external_ip()
    assert networking.get_external_ip is original


def test_failed_lookup_names_the_flag(monkeypatch):
    def broken() -> str:
        raise OSError("no route")

    monkeypatch.setattr(networking, "get_external_ip", broken)
    with pytest.raises(ExternalIpUnknown, match="--axon.external_ip"):
        detect_external_ip(timeout_s=1)


def test_port_checks():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        assert wait_for_port("127.0.0.1", port, timeout_s=2)
    port = free_port()
    assert port_is_free("127.0.0.1", port)
    assert wait_for_port("127.0.0.1", port, timeout_s=0.1) is False


def test_bind_axon_host():
    axon = SimpleNamespace(fast_server=SimpleNamespace(config=SimpleNamespace(host="0.0.0.0")))
    bind_axon_host(axon, "127.0.0.1")
    assert axon.fast_server.config.host == "127.0.0.1"
    bind_axon_host(axon, "[::]")  # wildcard leaves bittensor's default alone
    assert axon.fast_server.config.host == "127.0.0.1"
