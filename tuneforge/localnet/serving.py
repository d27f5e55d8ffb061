"""What keeps ``tuneforge localnet --serve`` going after the scripted rounds.

During the scripted rounds the local network steps the chain by hand (a few blocks per round).
Once it serves, the validator runs its own loops (rounds, weights, metagraph sync) as it would on
a real network, so the chain must produce blocks by itself, in time: without them the block
number stands still and every weight update after the first is refused by the rate limit
("0 blocks since the last update"). :func:`start_block_production` starts the local chain's block
thread for that.

:class:`RoundRecorder` then records every round the validator's loops run the way the scripted
rounds are recorded: the clips and breakdowns under ``rounds/round_<id>/`` and a fresh
``leaderboard.json`` (EMA and the weights read back from the chain), rewritten again whenever a
weight update is answered. It watches the validator from a daemon thread (``poll_s`` seconds between
looks); :meth:`RoundRecorder.check` is one look, usable without the thread.
"""

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuneforge.localnet.report import save_round_logged

__all__ = ["RoundRecorder", "start_block_production"]

log = logging.getLogger(__name__)


def start_block_production(chain: Any, block_seconds: float) -> None:
    """Make ``chain`` (a ``LocalChain``) produce one block every ``block_seconds`` seconds from now on."""
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be positive, got {block_seconds}")
    chain.start_auto_step(block_seconds)
    log.info(
        "serving from block %d on; the validator's own loops run the rounds now", chain.get_current_block()
    )


class RoundRecorder:
    """Records the rounds and weight updates a running validator makes (see the module docstring).

    Args:
        validator: a started ``tuneforge.validator.neuron.Validator`` (read: ``last_round``,
            ``rounds_completed``, ``weight_setter.last_result``).
        out_dir: the local network's output directory (``rounds/`` is created under it).
        write_leaderboard: writes ``leaderboard.json`` from hotkey → last breakdown (a dict it
            may keep); returns the rows.
        last_breakdowns: hotkey → the last ``ScoreBreakdown.to_dict()`` of each miner so far
            (the scripted rounds'); updated in place.
        poll_s: seconds between two looks at the validator.
    """

    def __init__(
        self,
        *,
        validator: Any,
        out_dir: Path,
        write_leaderboard: Callable[[dict[str, dict[str, Any]]], list[dict[str, Any]]],
        last_breakdowns: dict[str, dict[str, Any]],
        poll_s: float = 0.5,
    ) -> None:
        if not poll_s > 0:
            raise ValueError(f"poll_s must be positive, got {poll_s}")
        self.validator = validator
        self.out_dir = Path(out_dir)
        self.write_leaderboard = write_leaderboard
        self.last_breakdowns = last_breakdowns
        self.poll_s = float(poll_s)
        self.rounds_recorded = 0
        self.weight_updates_seen = 0
        # What exists now was recorded already (the scripted rounds and their weights).
        self._seen_round = validator.last_round
        self._seen_completed = int(validator.rounds_completed)
        self._seen_weights = self._weight_result()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _weight_result(self) -> Any:
        setter = getattr(self.validator, "weight_setter", None)
        return None if setter is None else setter.last_result

    def check(self) -> bool:
        """One look: record a round finished since the last look and/or a new weight answer.

        Returns whether anything was written. A write that fails is logged (one ERROR line) and
        the next round is recorded as usual.
        """
        wrote = False
        result = self.validator.last_round
        if result is not None and result is not self._seen_round:
            completed = int(self.validator.rounds_completed)
            if completed - self._seen_completed > 1:
                log.warning(
                    "%d rounds finished between two looks; only round %s is saved under rounds/",
                    completed - self._seen_completed,
                    result.round_id,
                )
            self._seen_round, self._seen_completed = result, completed
            save_round_logged(self.out_dir, result)
            for miner in result.miners:
                self.last_breakdowns[miner.hotkey] = miner.breakdown
            self.rounds_recorded += 1
            scores = ", ".join(
                f"uid{m.uid}={m.final_score:.3f}" for m in sorted(result.miners, key=lambda m: m.uid)
            )
            log.info(
                "round %s recorded (%.1f s): %r | %s",
                result.round_id,
                result.finished_at - result.started_at,
                result.challenge.prompt[:70],
                scores,
            )
            wrote = True
        weights = self._weight_result()
        if weights is not None and weights is not self._seen_weights:
            self._seen_weights = weights
            self.weight_updates_seen += 1
            log.info(
                "weights %s",
                f"set at block {weights.block}" if weights.success else f"not set ({weights.reason})",
            )
            wrote = True
        if wrote:
            try:
                self.write_leaderboard(self.last_breakdowns)
            except OSError as exc:
                log.error("leaderboard.json not rewritten under %s: %s", self.out_dir, exc)
        return wrote

    def start(self) -> None:
        """Look every ``poll_s`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def _run() -> None:
            while not self._stop.wait(self.poll_s):
                try:
                    self.check()
                except Exception:  # keep recording later rounds; this one is logged with its traceback
                    log.exception("recording the validator's latest round failed")

        self._thread = threading.Thread(target=_run, name="localnet-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then one last look (a round that ended just before the stop is kept)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=10.0)
        self._thread = None
        self.check()
