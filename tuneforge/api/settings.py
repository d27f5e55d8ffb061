"""Settings of the validator's HTTP API: one dataclass, filled from ``--api.*`` flags.

``ApiSettings.add_args(parser)`` adds the flags to the validator's (or the admin CLI's) parser;
``ApiSettings.from_args(namespace, state_dir)`` builds the settings, placing the database and
the audio directory under the validator's state directory unless given explicitly.
"""

import argparse
import ipaddress
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ApiSettings", "DEFAULT_PLAN_LIMITS", "DEFAULT_STATE_DIR"]

DEFAULT_STATE_DIR = "~/.tuneforge/validator"
#: Requests per minute per plan.
DEFAULT_PLAN_LIMITS = {"free": 60, "pro": 300, "premier": 1000}


@dataclass
class ApiSettings:
    """Everything the API server reads (seconds and bytes unless named otherwise)."""

    host: str = "0.0.0.0"
    port: int = 8000
    off: bool = False
    database_url: str = ""
    audio_dir: str = ""
    public_url: str | None = None  # base URL clients use (audio_url links); default http://host:port
    plan_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PLAN_LIMITS))
    hotkey_rate_limit_per_minute: int = 300
    anonymous_rate_limit_per_minute: int = 60  # per client IP for unauthenticated requests
    retention_days: float = 30.0
    job_workers: int = 2
    job_max_attempts: int = 2  # a job interrupted by a restart is retried until this many attempts
    job_timeout_s: float | None = None  # per miner request; None: the validator's own scaling
    num_candidates: int = 3
    webhook_max_attempts: int = 5
    webhook_backoff_s: float = 2.0  # delays 2, 4, 8, 16 s between attempts
    webhook_timeout_s: float = 10.0
    webhook_allow_private: bool = False  # allow webhook URLs on loopback/private/link-local addresses
    max_body_bytes: int = 64 * 1024
    max_header_bytes: int = 64 * 1024  # request line + headers; more is answered 431 before authentication
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs or CIDRs).
    # Empty: none, the TCP peer is the client (uvicorn alone would trust 127.0.0.1).
    forwarded_allow_ips: str = ""
    # The key webhook secrets are sealed with; None: api_secrets.key beside the SQLite database (else
    # beside the audio directory), i.e. in the state directory by default (tuneforge.store.secret_box)
    secret_key_file: str | None = None
    signature_window_s: float = 300.0
    redis_url: str | None = None  # shared rate-limit windows, nonces and wake-ups; None: in this process
    redis_prefix: str = "tuneforge:"
    job_lease_s: float = 30.0  # a claimed job returns to the queue this long after its worker stops renewing

    def __post_init__(self) -> None:
        state = os.path.expanduser(DEFAULT_STATE_DIR)
        if not self.database_url:
            self.database_url = f"sqlite:///{Path(state) / 'tuneforge.db'}"
        if not self.audio_dir:
            self.audio_dir = str(Path(state) / "audio")
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first flag whose value cannot work."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--api.port must be 0-65535, got {self.port}")
        for name, value in self.plan_limits.items():
            if value < 1:
                raise ValueError(f"--api.rate_limit_{name} must be >= 1, got {value}")
        if self.job_workers < 1:
            raise ValueError(f"--api.job_workers must be >= 1, got {self.job_workers}")
        if self.webhook_max_attempts < 1:
            raise ValueError(f"--api.webhook_max_attempts must be >= 1, got {self.webhook_max_attempts}")
        if not math.isfinite(self.retention_days) or self.retention_days <= 0:
            raise ValueError(f"--api.retention_days must be a positive number, got {self.retention_days}")
        if self.max_body_bytes < 1024:
            raise ValueError(f"--api.max_body_bytes must be >= 1024, got {self.max_body_bytes}")
        if not math.isfinite(self.job_lease_s) or self.job_lease_s < 1.0:
            raise ValueError(f"--api.job_lease_s must be >= 1 second, got {self.job_lease_s}")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"--api.redis_url must be a redis://, rediss:// or unix:// URL, got {self.redis_url!r}")
        if self.max_header_bytes < 4096:
            raise ValueError(f"--api.max_header_bytes must be >= 4096, got {self.max_header_bytes}")
        for entry in self.trusted_proxies:
            if entry == "*":  # every peer is a proxy: only when nothing but the proxy can reach the port
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"--api.forwarded_allow_ips: {entry!r} is not an IP address or network "
                                 "(e.g. 10.0.0.2,10.1.0.0/16)") from None

    @property
    def trusted_proxies(self) -> list[str]:
        """The entries of ``forwarded_allow_ips`` (IP addresses or networks); empty: trust no proxy."""
        return [e.strip() for e in self.forwarded_allow_ips.split(",") if e.strip()]

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{self.port}"

    @staticmethod
    def add_args(parser: argparse.ArgumentParser) -> None:
        """Add the ``--api.*`` flags (defaults: database and audio under ``--neuron.state_dir``)."""
        d = ApiSettings.__dataclass_fields__
        group = parser.add_argument_group("HTTP API")
        group.add_argument("--api.host", default=d["host"].default, help="Address the API listens on (default 0.0.0.0).")
        group.add_argument("--api.port", type=int, default=d["port"].default, help="API port (default 8000).")
        group.add_argument("--api.off", action="store_true", default=False, help="Do not serve the HTTP API.")
        group.add_argument("--api.database_url", default=None,
                           help="SQLAlchemy URL (default sqlite:///<state_dir>/tuneforge.db; postgresql+psycopg://... to scale).")
        group.add_argument("--api.audio_dir", default=None, help="Audio file directory (default <state_dir>/audio).")
        group.add_argument("--api.public_url", default=None,
                           help="Base URL clients reach the API at, used in audio_url links (default http://host:port).")
        group.add_argument("--api.redis_url", default=None,
                           help="Redis URL (redis://host:6379/0) shared by API replicas for rate-limit windows, "
                                "signature nonces and job wake-ups (default: kept in this process).")
        group.add_argument("--api.job_lease_s", type=float, default=d["job_lease_s"].default,
                           help="Seconds a claimed generation job stays leased to its worker without a renewal; "
                                "a job whose worker died is re-claimed after this (default 30).")
        for plan, limit in DEFAULT_PLAN_LIMITS.items():
            group.add_argument(f"--api.rate_limit_{plan}", type=int, default=limit,
                               help=f"Requests per minute on the {plan} plan (default {limit}).")
        group.add_argument("--api.rate_limit_hotkey", type=int, default=d["hotkey_rate_limit_per_minute"].default,
                           help="Requests per minute per hotkey on the scores API (default 300).")
        group.add_argument("--api.retention_days", type=float, default=d["retention_days"].default,
                           help="Days scored validation clips are kept (default 30).")
        group.add_argument("--api.job_workers", type=int, default=d["job_workers"].default,
                           help="Generation jobs processed at once (default 2).")
        group.add_argument("--api.webhook_max_attempts", type=int, default=d["webhook_max_attempts"].default,
                           help="Webhook delivery attempts before giving up (default 5).")
        group.add_argument("--api.webhook_allow_private", action="store_true", default=False,
                           help="Allow webhook URLs that point at loopback, private or link-local addresses "
                                "(off by default: clients choose the URL, so it must not reach the validator's "
                                "own network; turn on for a local network or test bench).")
        group.add_argument("--api.max_body_bytes", type=int, default=d["max_body_bytes"].default,
                           help="Largest request body accepted, in bytes (default 65536).")
        group.add_argument("--api.max_header_bytes", type=int, default=d["max_header_bytes"].default,
                           help="Largest request line plus headers accepted, in bytes; more is answered 431 "
                                "(default 65536).")
        group.add_argument("--api.forwarded_allow_ips", default=d["forwarded_allow_ips"].default,
                           help="Comma-separated IPs or networks of reverse proxies whose X-Forwarded-For is "
                                "believed (default: none, the connecting address is the client's; set it to "
                                "the proxy's address when the API is behind one).")
        group.add_argument("--api.secret_key_file", default=None,
                           help="Key file webhook secrets are sealed with in the database (default "
                                "<state_dir>/api_secrets.key, created 0600 on first start; every replica "
                                "sharing a database needs the same file).")

    @classmethod
    def from_args(cls, namespace: argparse.Namespace | dict[str, Any], state_dir: str | Path | None = None) -> "ApiSettings":
        """Settings from parsed flags; ``state_dir`` (default ``--neuron.state_dir`` or
        ``~/.tuneforge/validator``) holds the default database and audio directory."""
        v = namespace if isinstance(namespace, dict) else vars(namespace)
        state = Path(os.path.expanduser(str(state_dir or v.get("neuron.state_dir") or DEFAULT_STATE_DIR)))
        d = cls.__dataclass_fields__

        def get(flag: str, name: str) -> Any:
            value = v.get(flag)
            return d[name].default if value is None else value

        return cls(
            host=get("api.host", "host"), port=int(get("api.port", "port")), off=bool(v.get("api.off", False)),
            database_url=v.get("api.database_url") or f"sqlite:///{state / 'tuneforge.db'}",
            audio_dir=os.path.expanduser(v.get("api.audio_dir") or str(state / "audio")),
            public_url=v.get("api.public_url"),
            plan_limits={p: int(v.get(f"api.rate_limit_{p}") or lim) for p, lim in DEFAULT_PLAN_LIMITS.items()},
            hotkey_rate_limit_per_minute=int(get("api.rate_limit_hotkey", "hotkey_rate_limit_per_minute")),
            retention_days=float(get("api.retention_days", "retention_days")),
            job_workers=int(get("api.job_workers", "job_workers")),
            webhook_max_attempts=int(get("api.webhook_max_attempts", "webhook_max_attempts")),
            max_body_bytes=int(get("api.max_body_bytes", "max_body_bytes")),
            max_header_bytes=int(get("api.max_header_bytes", "max_header_bytes")),
            forwarded_allow_ips=str(get("api.forwarded_allow_ips", "forwarded_allow_ips")),
            secret_key_file=os.path.expanduser(v["api.secret_key_file"]) if v.get("api.secret_key_file") else None,
            webhook_allow_private=bool(v.get("api.webhook_allow_private", False)),
            redis_url=v.get("api.redis_url") or None,
            job_lease_s=float(get("api.job_lease_s", "job_lease_s")),
        )
