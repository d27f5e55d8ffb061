"""The validator's health as the public dashboard shows it, published into the store.

The dashboard is served by the validator's own API and by API replicas that run without a
validator (``tuneforge api serve``), so it reads the validator's health from one place both can
reach: the ``published_state`` row ``"validator"``, which the validator replaces after every round
and every weight-setting attempt (next to the leaderboard it publishes for replicas, see
:mod:`tuneforge.api.registry`). :func:`public_status` builds that row from a running validator;
it holds only what anyone may see: the validator's hotkey and uid, the last round's id and
times, the outcome of the last weight setting (a chain refusal's message, an exception's type but
not its text, which may name hosts or paths), the weights the chain last accepted, the chain
block, and per-loop step and failure counts. Times are Unix seconds.
"""

import logging
import time
from typing import Any

__all__ = ["VALIDATOR_STATUS", "public_status", "publish_status", "read_status", "public_reason"]

log = logging.getLogger(__name__)

#: ``published_state`` name of the validator's public health record.
VALIDATOR_STATUS = "validator"
#: Longest weight-setting reason kept (chain messages are short; anything longer is cut).
MAX_REASON_CHARS = 200


def public_reason(outcome: str | None, reason: str | None) -> str | None:
    """The weight setter's ``reason`` without exception text: a chain's own refusal message is kept
    (``"chain refused weights: ..."``); for a raised exception only its type (``"set_weights raised
    TimeoutError"``, ``"rate-limit query failed: TimeoutError"``)."""
    if reason is None:
        return None
    text = " ".join(str(reason).split())
    if outcome == "failed" and not text.startswith("chain refused weights"):
        head, sep, rest = text.partition(" raised ")
        if sep:
            text = f"{head} raised {rest.split(':', 1)[0]}"
        elif text.startswith("rate-limit query failed: "):
            text = (
                "rate-limit query failed: " + text.removeprefix("rate-limit query failed: ").split(":", 1)[0]
            )
        else:
            text = text.split(":", 1)[0]
    return text[:MAX_REASON_CHARS]


def _weights(setter: Any) -> dict[str, Any] | None:
    if setter is None:
        return None
    status = setter.status()
    outcome = status.get("last_outcome")
    accepted = getattr(setter, "last_accepted", None)
    return {
        "outcome": outcome,  # "set" | "skipped" | "failed" | None (not tried yet)
        "reason": public_reason(outcome, status.get("last_reason")),
        "at": getattr(setter, "last_result_at", None),
        "last_set_block": status.get("last_weight_block"),
        "successes": int(status.get("successes") or 0),
        "failures": int(status.get("failures") or 0),
        "skips": int(status.get("skips") or 0),
        # as sent (normalised floats; the chain stores them as u16): uid -> weight
        "on_chain": None
        if accepted is None
        else {
            "uids": [int(u) for u in accepted.uids],
            "weights": [float(w) for w in accepted.weights],
            "block": accepted.block,
        },
    }


def _chain_block(validator: Any) -> int | None:
    subtensor = getattr(validator, "subtensor", None)
    if subtensor is None:
        return None
    try:
        return int(subtensor.get_current_block())
    except Exception as exc:  # a status without a block is still worth publishing
        log.warning("dashboard status: the current block could not be read: %s: %s", type(exc).__name__, exc)
        return None


def public_status(validator: Any) -> dict[str, Any]:
    """The validator's public health record (reads the chain's current block once)."""
    last = getattr(validator, "last_round", None)
    loops = getattr(validator, "loops", None) or {}
    return {
        "validator": {
            "hotkey": validator.hotkey,
            "uid": getattr(validator, "uid", None),
            "netuid": int(validator.config.netuid),
        },
        "rounds_completed": int(getattr(validator, "rounds_completed", 0)),
        "last_round": None
        if last is None
        else {
            "round_id": str(last.round_id),
            "started_at": float(last.started_at),
            "finished_at": float(last.finished_at),
            "miners": len(last.miners),
            "answered": sum(1 for m in last.miners if getattr(m, "audio_bytes", None)),
        },
        "weights": _weights(getattr(validator, "weight_setter", None)),
        "chain_block": _chain_block(validator),
        "block_read_at": time.time(),
        "loops": {
            name: {
                k: loop.status().get(k)
                for k in (
                    "interval_s",
                    "steps",
                    "failures",
                    "consecutive_failures",
                    "last_started_at",
                    "last_duration_s",
                )
            }
            for name, loop in loops.items()
        },
    }


def publish_status(store: Any, status: dict[str, Any]) -> None:
    """Replace the published health record (raises what ``store.publish`` raises)."""
    store.publish(VALIDATOR_STATUS, status)


def read_status(store: Any) -> tuple[dict[str, Any], float] | None:
    """``(record, published_at)``, or None when no validator has published one."""
    return store.published(VALIDATOR_STATUS)
