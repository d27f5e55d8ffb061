"""Weight setting: turn the leaderboard into a ``set_weights`` call, and read what the chain answered.

``WeightSetter.set`` checks the chain's rate limit first (bittensor's rule: allowed once
``blocks_since_last_update > weights_rate_limit``) and skips with a reason when it is too early,
takes the leaderboard's tiered weights for the uids on the metagraph (an entry whose hotkey no
longer owns its uid is left out), calls ``subtensor.set_weights`` with the subnet's
``version_key``, and accepts the call only when the response's success flag is true. A refusal or a
raised exception is logged, counted and retried with exponential backoff (the sleep is
injectable for tests), except a refusal no retry can fix (no permit, unregistered hotkey, version
key too low, too early), which ends the attempt at once. Counters, the last error and the block of the last accepted weights are
kept for the validator's status page.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuneforge import SPEC_VERSION
from tuneforge.validator.leaderboard import Leaderboard

__all__ = ["PERMANENT_REFUSALS", "WeightResult", "WeightSetter"]

log = logging.getLogger(__name__)

#: Chain errors that a retry within the same round cannot fix; the round gives up at once.
PERMANENT_REFUSALS = (
    "NeuronNoValidatorPermit",
    "HotKeyNotRegisteredInSubNet",
    "IncorrectWeightVersionKey",
    "SettingWeightsTooFast",
    "UidVecContainInvalidOne",
    "DuplicateUids",
)


@dataclass(frozen=True)
class WeightResult:
    """Outcome of one ``WeightSetter.set``.

    ``success``: the chain accepted the weights. ``skipped``: nothing was sent (``reason`` says
    why). ``uids``/``weights``: what was (or would have been) sent, weights as floats summing to 1.
    ``block``: the chain block when accepted. ``attempts``: calls made to ``set_weights``.
    """

    success: bool
    skipped: bool
    reason: str
    uids: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    block: int | None = None
    attempts: int = 0


def _read_response(response: Any) -> tuple[bool, str | None]:
    """``(success, message)`` from an ``ExtrinsicResponse``, a ``(bool, msg)`` tuple or a bare bool."""
    if isinstance(response, bool):
        return response, None
    if hasattr(response, "success"):
        return response.success is True, getattr(response, "message", None)
    if isinstance(response, tuple) and len(response) >= 1:
        return response[0] is True, (str(response[1]) if len(response) > 1 and response[1] is not None else None)
    raise TypeError(f"set_weights returned {type(response).__name__}, not a success flag and message")


class WeightSetter:
    """Sets this validator's weights on ``netuid`` from a ``Leaderboard``.

    Args:
        subtensor: ``bt.Subtensor`` or ``LocalChain``.
        wallet: the validator's wallet (its hotkey signs).
        netuid: the subnet.
        version_key: sent with every call; the chain refuses keys below the subnet's ``weights_version``.
        max_retries: retries after the first attempt when a call fails (total attempts = 1 + max_retries).
        backoff_seconds: sleep before the first retry; doubled before each further retry.
        sleep: the sleep function (tests pass a recorder).
        last_weight_block: restored from saved state, if any.
    """

    def __init__(
        self,
        subtensor: Any,
        wallet: Any,
        netuid: int,
        *,
        version_key: int = SPEC_VERSION,
        max_retries: int = 3,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        last_weight_block: int | None = None,
    ) -> None:
        if max_retries < 0 or backoff_seconds < 0:
            raise ValueError("max_retries and backoff_seconds must be >= 0")
        self.subtensor = subtensor
        self.wallet = wallet
        self.netuid = netuid
        self.version_key = version_key
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self.last_weight_block = last_weight_block
        self.successes = 0
        self.failures = 0  # ``set`` calls that gave up after every attempt failed
        self.failed_attempts = 0  # individual refused or raising ``set_weights`` calls
        self.skips = 0
        self.last_error: str | None = None
        self.last_result: WeightResult | None = None
        self.last_result_at: float | None = None  # Unix seconds of last_result
        self.last_accepted: WeightResult | None = None  # the last weights the chain accepted (as sent)

    def status(self) -> dict[str, Any]:
        """Counters for the status page and logs."""
        last = self.last_result
        return {
            "last_weight_block": self.last_weight_block, "successes": self.successes, "failures": self.failures,
            "failed_attempts": self.failed_attempts, "skips": self.skips, "last_error": self.last_error,
            "last_outcome": None if last is None else ("set" if last.success else "skipped" if last.skipped else "failed"),
            "last_reason": None if last is None else last.reason,
        }

    def _finish(self, result: WeightResult) -> WeightResult:
        self.last_result = result
        self.last_result_at = time.time()
        if result.success:
            self.last_accepted = result
        if result.skipped:
            self.skips += 1
            log.info("weights not set: %s", result.reason)
        return result

    def _rate_limit_reason(self, uid: int) -> str | None:
        """Why it is too early to set weights, or None. Query errors propagate."""
        since = self.subtensor.blocks_since_last_update(self.netuid, uid)
        limit = self.subtensor.weights_rate_limit(self.netuid)
        if since is None or limit is None:
            return None  # the chain did not say; let set_weights decide
        if since <= limit:
            return f"rate limited: {since} blocks since the last update, the subnet allows one every {limit}+1"
        return None

    def set(self, leaderboard: Leaderboard, metagraph: Any) -> WeightResult:
        """Set weights from ``leaderboard`` for the uids of ``metagraph`` (see the module docstring)."""
        hotkeys = list(metagraph.hotkeys)
        own = self.wallet.hotkey.ss58_address
        if own not in hotkeys:
            return self._finish(WeightResult(False, True, f"validator hotkey {own} is not on the metagraph"))
        own_uid = hotkeys.index(own)
        weights = leaderboard.weights(len(hotkeys), hotkeys=hotkeys)
        uids = np.flatnonzero(weights > 0)
        if len(uids) == 0:
            return self._finish(WeightResult(False, True, "no miner has a positive EMA yet"))
        vals = weights[uids]
        sent_uids, sent_vals = tuple(int(u) for u in uids), tuple(float(v) for v in vals)
        try:
            too_early = self._rate_limit_reason(own_uid)
        except Exception as exc:  # a chain query failure is a failed round, not a skip
            self.failures += 1
            self.last_error = f"rate-limit query failed: {type(exc).__name__}: {exc}"
            log.warning("weights not set: %s", self.last_error, exc_info=True)
            return self._finish(WeightResult(False, False, self.last_error, sent_uids, sent_vals))
        if too_early is not None:
            return self._finish(WeightResult(False, True, too_early, sent_uids, sent_vals))

        attempts = 0
        reason = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                log.info("retrying set_weights in %.1f s (attempt %d of %d)", delay, attempt + 1, self.max_retries + 1)
                self._sleep(delay)
            attempts += 1
            try:
                response = self.subtensor.set_weights(
                    wallet=self.wallet, netuid=self.netuid, uids=uids, weights=vals.astype(np.float32),
                    version_key=self.version_key, wait_for_inclusion=True, wait_for_finalization=False,
                )
                ok, message = _read_response(response)
            except Exception as exc:
                self.failed_attempts += 1
                reason = self.last_error = f"set_weights raised {type(exc).__name__}: {exc}"
                log.warning("%s (attempt %d)", reason, attempts, exc_info=True)
                continue
            if ok:
                block = self._current_block()
                self.last_weight_block = block
                self.successes += 1
                log.info("weights set for %d uids at block %s: %s", len(sent_uids), block, message or "ok")
                return self._finish(WeightResult(True, False, message or "ok", sent_uids, sent_vals, block, attempts))
            self.failed_attempts += 1
            # bittensor's client answers (False, None) when its own rate-limit check fails
            reason = self.last_error = f"chain refused weights: {message or 'no message (rate limit not passed?)'}"
            log.warning("%s (attempt %d)", reason, attempts)
            if message and any(name in message for name in PERMANENT_REFUSALS):
                break  # retrying cannot change the answer before the next round
        self.failures += 1
        log.error("weights not set after %d attempts: %s", attempts, reason)
        return self._finish(WeightResult(False, False, reason, sent_uids, sent_vals, None, attempts))

    def _current_block(self) -> int | None:
        try:
            return int(self.subtensor.get_current_block())
        except Exception as exc:
            log.warning("weights were accepted but the current block could not be read: %s", exc)
            return None
