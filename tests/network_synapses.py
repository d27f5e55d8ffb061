"""The network's own synapse classes, written from its field definitions in PROTOCOL.md.

These stand in for the live TuneForge network's peers (testnet netuid 234) in interop tests: the
class names are the same (bittensor routes ``POST /<ClassName>``), the fields and defaults are the
network's, not ours. A test that passes a synapse between these and ``tuneforge.protocol`` checks
that each side rebuilds the other's JSON, as bittensor's dendrite and axon do.
"""

from typing import ClassVar

import bittensor as bt
from pydantic import Field

__all__ = ["NETWORK_CLASSES", "network_class"]


class _NetworkPing(bt.Synapse):
    required_hash_fields: ClassVar[tuple[str, ...]] = ()

    version_check: str | None = None
    is_available: bool = False
    supported_genres: list[str] | None = None
    supported_durations: list[float] | None = None
    gpu_model: str | None = None
    max_concurrent: int | None = None
    version: str | None = None


class _NetworkHealth(bt.Synapse):
    required_hash_fields: ClassVar[tuple[str, ...]] = ()

    gpu_utilization: float = Field(0.0, ge=0, le=100)
    gpu_memory_used_mb: float = Field(0.0, ge=0)
    cpu_percent: float = Field(0.0, ge=0, le=100)
    memory_percent: float = Field(0.0, ge=0, le=100)
    generations_completed: int = Field(0, ge=0)
    average_generation_time_ms: float = Field(0.0, ge=0)
    uptime_seconds: float = Field(0.0, ge=0)
    errors_last_hour: int = Field(0, ge=0)


# bittensor names the route after the class: give the stand-ins the network's class names.
_NetworkPing.__name__ = _NetworkPing.__qualname__ = "PingSynapse"
_NetworkHealth.__name__ = _NetworkHealth.__qualname__ = "HealthReportSynapse"

NETWORK_CLASSES = {"PingSynapse": _NetworkPing, "HealthReportSynapse": _NetworkHealth}


def network_class(name: str) -> type[bt.Synapse]:
    """The network's class named ``name`` (``"PingSynapse"`` | ``"HealthReportSynapse"``)."""
    return NETWORK_CLASSES[name]
