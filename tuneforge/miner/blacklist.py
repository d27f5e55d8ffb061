"""Who may call the miner: a snapshot of the metagraph's callers and the refusal rules.

The metagraph is read only through ``bt.Metagraph`` attribute names (``hotkeys``,
``validator_permit``, ``S``) and only in the background re-sync, which builds an immutable
:class:`CallerRegistry`; the request path does a dictionary lookup on the current snapshot.

Rules for generation and health requests, in order: a hotkey not registered on the subnet is
refused; a hotkey without a validator permit is refused unless non-validators are allowed; a
hotkey with less stake than the minimum is refused. Ping (a capability check that reveals
nothing costly) is open to any registered hotkey, so miners and dashboards can check liveness.
"""

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallerRecord", "CallerRegistry", "CallerPolicy", "Verdict"]


@dataclass(frozen=True)
class CallerRecord:
    """One registered hotkey as the metagraph saw it: uid, validator permit, stake."""

    uid: int
    validator_permit: bool
    stake: float


@dataclass(frozen=True)
class CallerRegistry:
    """Registered hotkeys at one metagraph sync, keyed by ss58 address."""

    callers: dict[str, CallerRecord] = field(default_factory=dict)
    block: int | None = None

    @classmethod
    def from_metagraph(cls, metagraph: Any, *, block: int | None = None) -> "CallerRegistry":
        """Index a ``bt.Metagraph`` (or anything with ``hotkeys``, ``validator_permit``, ``S``)."""
        hotkeys = list(metagraph.hotkeys)
        permits = list(metagraph.validator_permit)
        stakes = [float(s) for s in metagraph.S]
        if not (len(hotkeys) == len(permits) == len(stakes)):
            raise ValueError(
                f"metagraph arrays disagree: {len(hotkeys)} hotkeys, {len(permits)} permits, {len(stakes)} stakes"
            )
        callers = {
            str(hk): CallerRecord(uid=uid, validator_permit=bool(permit), stake=stake)
            for uid, (hk, permit, stake) in enumerate(zip(hotkeys, permits, stakes, strict=True))
        }
        return cls(callers=callers, block=block)

    def get(self, hotkey: str | None) -> CallerRecord | None:
        return self.callers.get(hotkey) if hotkey else None

    def __len__(self) -> int:
        return len(self.callers)


@dataclass(frozen=True)
class Verdict:
    """``refused`` plus a human-readable ``reason`` (bittensor sends it back in the 403 message)."""

    refused: bool
    reason: str

    def as_tuple(self) -> tuple[bool, str]:
        return self.refused, self.reason


@dataclass(frozen=True)
class CallerPolicy:
    """The refusal rules (``--blacklist.min_stake``, ``--blacklist.allow_non_validators``)."""

    min_stake: float = 0.0
    allow_non_validators: bool = False

    def check_generation(self, hotkey: str | None, registry: CallerRegistry) -> Verdict:
        """Rules for generation and health requests: registered, permitted, staked."""
        record = registry.get(hotkey)
        if record is None:
            return Verdict(True, f"hotkey {hotkey or '<none>'} is not registered on the subnet")
        if not record.validator_permit and not self.allow_non_validators:
            return Verdict(True, f"hotkey {hotkey} (uid {record.uid}) has no validator permit")
        if record.stake < self.min_stake:
            return Verdict(
                True, f"hotkey {hotkey} (uid {record.uid}) has stake {record.stake:g} < minimum {self.min_stake:g}"
            )
        return Verdict(False, f"hotkey {hotkey} (uid {record.uid}) allowed")

    def check_ping(self, hotkey: str | None, registry: CallerRegistry) -> Verdict:
        """Rule for ping: any registered hotkey."""
        record = registry.get(hotkey)
        if record is None:
            return Verdict(True, f"hotkey {hotkey or '<none>'} is not registered on the subnet")
        return Verdict(False, f"hotkey {hotkey} (uid {record.uid}) allowed to ping")

    @staticmethod
    def priority(hotkey: str | None, registry: CallerRegistry) -> float:
        """The caller's stake (0 when unknown). bittensor does not order work by it; kept for peers that read it."""
        record = registry.get(hotkey)
        return float(record.stake) if record is not None else 0.0
