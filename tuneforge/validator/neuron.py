"""The validator neuron: start-up checks, the background loops, shutdown, and the API's view of it.

``Validator.setup()`` (run by ``start()`` and, lazily, by ``run_round()``) loads the scoring
models (``--scoring.require_models`` makes a missing model fatal; a present CLAP must pass its
canary), restores the newest complete state snapshot (leaderboard, rounds, last weight block,
miner history, issued challenges; see :mod:`tuneforge.validator.snapshot`) and the issue record
(:mod:`tuneforge.validator.issued`), connects to the chain, syncs the metagraph and refuses to go
on when its own hotkey is not registered. Each round's challenge is recorded as issued (fsynced)
and the round counter advanced before the challenge is sent, so a restart never re-issues a
challenge, or its seeds, already sent. A save that fails (a full disk) is logged as such, counted
in :meth:`Validator.status`, and retried after the next round; the rounds go on. ``start()`` then runs three loops on one asyncio event loop in a background
thread (metagraph sync, rounds, weight setting; see :mod:`tuneforge.validator.loops`) and starts
the HTTP API unless ``--api.off``. ``stop()`` cancels the loops, saves state and stops the API;
``run()`` blocks until SIGINT/SIGTERM (or ``--neuron.max_rounds`` rounds) and then stops.
Wallet, chain, dendrite, scorer and store can be injected, so the local network and the tests
run a validator in-process.
"""

import asyncio
import io
import logging
import secrets
import signal
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import bittensor as bt
from bittensor_wallet.errors import KeyFileError, PasswordError

from tuneforge import chain
from tuneforge.fsutil import WriteFailed, atomic_write_bytes
from tuneforge.validator.challenges import Challenge, ChallengeGenerator, ChallengeStore
from tuneforge.validator.config import ValidatorConfig
from tuneforge.validator.issued import IssueRecord
from tuneforge.validator.leaderboard import Leaderboard
from tuneforge.validator.loops import Loop
from tuneforge.validator.organic import OrganicGateway
from tuneforge.validator.round import RoundResult, RoundRunner, ScoringPool
from tuneforge.validator.snapshot import SnapshotSaveError, SnapshotStore
from tuneforge.validator.state import StateFile, StateSaveError, ValidatorState
from tuneforge.validator.weights import WeightResult, WeightSetter

__all__ = ["RoundNotIssued", "Validator", "ValidatorStartupError", "run_validator"]

log = logging.getLogger(__name__)

#: Seconds between retention passes over stored clips when the API (which prunes itself) is off.
RETENTION_INTERVAL_S = 600.0

T = TypeVar("T")

#: The files of one state snapshot (``<state_dir>/snapshots/<generation>/``).
STATE_FILE = "state.json"
HISTORY_FILE = "miner_history.npz"
CHALLENGES_FILE = "challenges.json"
SNAPSHOT_DIR = "snapshots"
ISSUED_FILE = "issued.dat"
SECRET_FILE = "challenge_secret"


class ValidatorStartupError(RuntimeError):
    """The validator cannot run as configured; the message is one line saying what to fix."""


class RoundNotIssued(RuntimeError):
    """The round's challenge could not be recorded as issued, so it was not sent."""


class Validator:
    """A TuneForge validator. Parts not injected are built from ``config`` in :meth:`setup`.

    Args:
        config: parsed settings.
        wallet: ``bt.Wallet`` (its hotkey signs queries and weights); default from ``--wallet.*``.
        subtensor: anything with the bittensor 10.5 ``Subtensor`` interface; default connects.
        dendrite: a ``bt.Dendrite`` or a double with its async ``call``; default built from the wallet.
        scorer: ``scoring.scorer.Scorer`` or a double with ``score_round``; default loads the models.
        store: ``tuneforge.store.Store`` or None; default built from ``--api.*`` when the API is on.
        generator: the ``ChallengeGenerator``; default keyed by the secret in the state directory.
    """

    def __init__(
        self,
        config: ValidatorConfig,
        *,
        wallet: Any = None,
        subtensor: Any = None,
        dendrite: Any = None,
        scorer: Any = None,
        store: Any = None,
        generator: ChallengeGenerator | None = None,
    ) -> None:
        self.config = config
        self.wallet = wallet if wallet is not None else bt.Wallet(
            name=config.wallet_name, hotkey=config.wallet_hotkey, path=config.wallet_path)
        self.subtensor = subtensor
        self.dendrite = dendrite
        self.scorer = scorer
        self.store = store
        self.state_dir = Path(config.state_path)
        self.leaderboard = Leaderboard()
        self.metagraph: Any = None
        self.rounds_completed = 0
        self.rounds_issued = 0  # the round counter: advanced when a challenge is issued
        self.challenges = ChallengeStore()
        self.scoring_pool = ScoringPool(workers=config.scoring_workers, budget_s=config.scoring_budget_s)
        self.organic = OrganicGateway(self)
        self.snapshots = SnapshotStore(self.state_dir / SNAPSHOT_DIR)
        self.issue_record = IssueRecord(self.state_dir / ISSUED_FILE)
        self.save_failures = 0
        self.last_save_error: str | None = None
        self.last_snapshot: int | None = None
        self._save_lock = threading.Lock()
        self.weight_setter: WeightSetter | None = None
        self.generator: ChallengeGenerator | None = generator
        self.runner: RoundRunner | None = None
        self.last_round: RoundResult | None = None
        self.api: Any = None
        self.job_runner: Any = None  # the organic job runner (see _organic_worker_tasks)
        self.api_backends: Any = None  # what it shares with the in-process API (wake-ups, limits, nonces)
        self.wandb_run: Any = None
        self.loops: dict[str, Loop] = {}
        self._setup_done = False
        self._setup_lock = threading.Lock()
        self._round_lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._started = False

    # -- identity ---------------------------------------------------------------------------
    @property
    def hotkey(self) -> str:
        return self.wallet.hotkey.ss58_address

    @property
    def uid(self) -> int | None:
        if self.metagraph is None:
            return None
        hotkeys = list(self.metagraph.hotkeys)
        return hotkeys.index(self.hotkey) if self.hotkey in hotkeys else None

    # -- start-up ---------------------------------------------------------------------------
    def setup(self) -> "Validator":
        """Everything needed before the first round (idempotent). Raises :class:`ValidatorStartupError`."""
        with self._setup_lock:
            if self._setup_done:
                return self
            cfg = self.config
            try:
                _ = self.wallet.hotkey  # a missing or locked key fails here, before any work
            except (KeyFileError, PasswordError) as exc:
                raise ValidatorStartupError(
                    f"wallet {cfg.wallet_name}/{cfg.wallet_hotkey} under {cfg.wallet_path} is unusable: {exc}") from exc
            try:
                from tuneforge.store.permissions import private_directory

                private_directory(self.state_dir, tighten=True)  # 0700: challenge secret, database, keys
            except OSError as exc:
                raise ValidatorStartupError(f"--neuron.state_dir {self.state_dir} cannot be created: {exc}") from exc
            saved, history_bytes = self._restore()
            if self.scorer is None:
                self.scorer = self._build_scorer(history_bytes)
            if saved is not None:
                self.leaderboard = Leaderboard.from_dict(saved.leaderboard)
                self.rounds_completed = saved.rounds_completed
                self.rounds_issued = int(saved.rounds_issued or 0)
                log.info("restored state: %d rounds completed, %d issued, %d miners, last weights at block %s",
                         saved.rounds_completed, self.rounds_issued, len(self.leaderboard), saved.last_weight_block)
            self._restore_issue_record()
            if self.subtensor is None:
                try:
                    self.subtensor = chain.connect(cfg.network, cfg.chain_endpoint)
                except Exception as exc:
                    raise ValidatorStartupError(f"cannot connect to chain {cfg.network}: {exc}") from exc
            self.sync_metagraph()
            if self.uid is None:
                raise ValidatorStartupError(
                    f"hotkey {self.hotkey} is not registered on netuid {cfg.netuid}; register it first "
                    f"(btcli subnet register --netuid {cfg.netuid} --wallet.name {cfg.wallet_name} "
                    f"--wallet.hotkey {cfg.wallet_hotkey})")
            self.weight_setter = WeightSetter(
                self.subtensor, self.wallet, cfg.netuid,
                last_weight_block=None if saved is None else saved.last_weight_block)
            if self.generator is None:
                if cfg.challenge_durations is not None:
                    self.generator = ChallengeGenerator(self._challenge_secret(), durations=cfg.challenge_durations)
                else:
                    self.generator = ChallengeGenerator(self._challenge_secret())
            if self.store is None:  # the one place the validator's store is built (the API is handed it)
                self.store = self._build_store()
            self.runner = RoundRunner(
                generator=self.generator, challenges=self.challenges, leaderboard=self.leaderboard,
                pool=self.scoring_pool, scorer_fn=lambda: self.scorer, store=self.store, sample_size=cfg.sample_size,
                timeout_s=cfg.timeout_s)
            self._publish_for_replicas(registry=[str(h) for h in self.metagraph.hotkeys], leaderboard=True)
            if self.dendrite is None:
                self.dendrite = self._build_dendrite()
            self.wandb_run = self._init_wandb()
            self._setup_done = True
        return self

    # -- restoring state -----------------------------------------------------------------------
    def _restore(self) -> tuple[ValidatorState | None, bytes | None]:
        """The newest complete snapshot's state (the challenge store restored from it) and its
        miner history bytes; the earlier one-file-each layout when no snapshot exists yet."""
        for snap in self.snapshots.snapshots():
            try:
                state = ValidatorState.from_bytes(snap.files[STATE_FILE])
                if CHALLENGES_FILE in snap.files:
                    self.challenges.restore(snap.files[CHALLENGES_FILE])
            except (KeyError, ValueError) as exc:
                log.warning("state snapshot %s is unusable (%s); trying the one before", snap.directory, exc)
                continue
            self.last_snapshot = snap.generation
            log.info("restored state snapshot %d (%s): %d challenges", snap.generation, snap.directory,
                     len(self.challenges))
            return state, snap.files.get(HISTORY_FILE)
        return self._restore_legacy()

    def _restore_legacy(self) -> tuple[ValidatorState | None, bytes | None]:
        """State written before snapshots: ``state.json``, ``miner_history.npz`` and
        ``challenges.json`` directly in the state directory (read once; the next save writes a snapshot)."""
        state = StateFile(self.state_dir / STATE_FILE).load()
        legacy_challenges = ChallengeStore(capacity=self.challenges.capacity, path=self.state_dir / CHALLENGES_FILE)
        if len(legacy_challenges):
            self.challenges.restore(legacy_challenges.to_bytes())
        history_path = self.state_dir / HISTORY_FILE
        try:
            history = history_path.read_bytes()
        except FileNotFoundError:
            history = None
        except OSError as exc:
            log.warning("could not read the miner history %s (%s); starting empty", history_path, exc)
            history = None
        if state is not None or history is not None:
            log.info("restored state from the files in %s (no snapshot yet)", self.state_dir)
        return state, history

    def _restore_issue_record(self) -> None:
        """Resume the round counter after the newest issued round, even one that never completed."""
        try:
            issued = self.issue_record.open()
        except WriteFailed as exc:
            raise ValidatorStartupError(f"cannot allocate the issue record: {exc}") from exc
        if issued is None:
            return
        if issued.round_number > self.rounds_issued:
            log.warning("round %d was issued but never completed (the validator stopped during it); "
                        "the next round is %d", issued.round_number, issued.round_number + 1)
            self.rounds_issued = issued.round_number
        try:
            challenge = Challenge.from_dict(issued.challenge)
        except ValueError as exc:
            log.warning("the issue record's challenge is unreadable (%s)", exc)
            return
        if challenge.challenge_id not in self.challenges:
            self.challenges.put(challenge)

    def _build_scorer(self, history_bytes: bytes | None = None) -> Any:
        from scoring.history import MinerHistory
        from scoring.scorer import Scorer

        history = MinerHistory()
        if history_bytes is not None:
            try:
                history = MinerHistory.load(io.BytesIO(history_bytes))
            except ValueError as exc:
                log.warning("saved miner history unreadable (%s); starting empty", exc)
        self._check_listeners()
        return Scorer(models=self._load_models(), history=history)

    def _check_listeners(self) -> None:
        """The in-wheel listeners (musicnn, basic-pitch) are part of every validator's scoring: a
        validator without them scores differently from the others, so it refuses to start unless
        ``--scoring.allow_missing_listeners`` is given."""
        from scoring import listeners

        state = listeners.status()
        if state.complete:
            log.info("in-wheel listeners loaded: %s", state.describe())
            return
        if not self.config.allow_missing_listeners:
            raise ValidatorStartupError(
                f"scoring listeners missing ({state.describe()}); install them with "
                "`pip install --no-deps musicnn==0.1.0 basic-pitch==0.4.0`, or pass "
                "--scoring.allow_missing_listeners to score without them"
            )
        log.warning("scoring without some in-wheel listeners (%s): scores will differ from other validators'",
                    state.describe())

    def _load_models(self) -> Any:
        cfg = self.config
        try:
            from scoring.models import load_models
        except ImportError as exc:
            if cfg.require_models:
                raise ValidatorStartupError(f"--scoring.require_models given but scoring models cannot load: {exc}") from exc
            log.warning("scoring models unavailable (%s); scoring with the weight-free signals only", exc)
            return None
        try:
            bundle = load_models(cfg.models_dir, require=cfg.require_models)
        except Exception as exc:
            if cfg.require_models:
                raise ValidatorStartupError(f"required scoring models missing: {exc}") from exc
            raise
        if getattr(bundle, "clap", None) is not None:
            from scoring.models.canary import run_clap_canary

            result = run_clap_canary(bundle)
            if not result.passed:
                detail = getattr(result, "message", None) or getattr(result, "reason", None) or result
                raise ValidatorStartupError(f"CLAP canary failed, refusing to score with it: {detail}")
            log.info("CLAP canary passed")
        return bundle

    def _build_store(self) -> Any:
        """The database of scored clips. Built even with ``--api.off``: every validation clip is
        recorded, so an API started later serves the history."""
        settings = self.config.api
        if settings is None:
            return None
        from tuneforge.store import Store

        return Store(settings.database_url, settings.audio_dir, secret_key_file=settings.secret_key_file)

    def _build_dendrite(self) -> Any:
        from tuneforge import netutils

        if chain.is_local_network(self.config.network):
            netutils.pin_external_ip("127.0.0.1")
        else:
            try:
                netutils.pin_external_ip(netutils.detect_external_ip(timeout_s=10.0))
            except netutils.ExternalIpUnknown as exc:
                log.warning("%s; the dendrite announces 0.0.0.0", exc)
                netutils.pin_external_ip("0.0.0.0")
        return bt.Dendrite(wallet=self.wallet)

    def _challenge_secret(self) -> bytes:
        """This validator's private challenge salt, created once in the state directory."""
        path = self.state_dir / SECRET_FILE
        try:
            text = path.read_text(encoding="ascii").strip()
            if len(text) >= 32:
                return bytes.fromhex(text)
            log.warning("challenge secret %s is too short; writing a new one", path)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("challenge secret %s unreadable (%s); writing a new one", path, exc)
        secret = secrets.token_bytes(32)
        try:
            atomic_write_bytes(path, (secret.hex() + "\n").encode("ascii"), mode=0o600)
        except WriteFailed as exc:
            raise ValidatorStartupError(f"cannot create the challenge secret: {exc}") from exc
        return secret

    def _init_wandb(self) -> Any:
        cfg = self.config
        if not cfg.wandb_project:
            return None
        try:
            import wandb
        except ImportError:
            log.warning("--wandb.project given but wandb is not installed; not logging to wandb")
            return None
        try:
            return wandb.init(
                project=cfg.wandb_project, entity=cfg.wandb_entity, mode="offline" if cfg.wandb_offline else "online",
                dir=str(self.state_dir), name=f"validator-{self.hotkey[:8]}", reinit=True,
                config={"netuid": cfg.netuid, "sample_size": cfg.sample_size, "hotkey": self.hotkey})
        except Exception as exc:  # experiment logging must never stop validation
            log.warning("wandb.init failed (%s: %s); not logging to wandb", type(exc).__name__, exc)
            return None

    # -- chain ------------------------------------------------------------------------------
    def sync_metagraph(self) -> Any:
        """Refresh the metagraph; drop leaderboard entries and history of hotkeys that left."""
        graph = self.subtensor.metagraph(self.config.netuid)
        hotkeys = [str(h) for h in graph.hotkeys]
        previous = set() if self.metagraph is None else {str(h) for h in self.metagraph.hotkeys}
        self.metagraph = graph
        self.leaderboard.sync(hotkeys)
        history = getattr(self.scorer, "history", None)
        if history is not None and hasattr(history, "forget"):
            for gone in previous - set(hotkeys):
                history.forget(gone)
        if previous and self.hotkey not in hotkeys:
            log.error("this validator's hotkey %s is no longer registered on netuid %d", self.hotkey, self.config.netuid)
        self._publish_for_replicas(registry=hotkeys)
        return graph

    def _publish_for_replicas(self, *, registry: list[str] | None = None, leaderboard: bool = False) -> None:
        """Write the registered hotkeys / the leaderboard (and with it this validator's public health,
        :mod:`tuneforge.api.dashboard_status`) into the store for API replicas running without a
        validator (``tuneforge api serve``; see :mod:`tuneforge.api.registry`) and the dashboard. A failed
        write is logged and retried at the next sync or round; validation goes on."""
        if self.store is None or not hasattr(self.store, "publish"):
            return
        from tuneforge.api.dashboard_status import public_status, publish_status
        from tuneforge.api.registry import publish_leaderboard, publish_registry

        try:
            if registry is not None:
                block = getattr(self.metagraph, "block", None)
                publish_registry(self.store, netuid=self.config.netuid, hotkeys=registry,
                                 block=None if block is None else int(block))
            if leaderboard:
                publish_leaderboard(self.store, self.leaderboard.snapshot())
                publish_status(self.store, public_status(self))  # the dashboard's health panel
        except Exception as exc:
            log.warning("publishing the %s for API replicas failed: %s: %s",
                        "registry" if registry is not None else "leaderboard", type(exc).__name__, exc)

    def is_registered(self, hotkey: str) -> bool:
        """Whether ``hotkey`` holds a uid on the subnet (per the last metagraph sync)."""
        if self.metagraph is None:
            return False
        return hotkey in {str(h) for h in self.metagraph.hotkeys}

    def set_weights_now(self) -> WeightResult:
        """Set weights from the leaderboard now (the chain's rate limit still applies), then save state."""
        self.setup()
        assert self.weight_setter is not None
        result = self.weight_setter.set(self.leaderboard, self.metagraph)
        if result.success:
            self._save_state_logged()
        self._publish_for_replicas(leaderboard=True)
        return result

    def leaderboard_snapshot(self) -> list[dict[str, Any]]:
        return self.leaderboard.snapshot()

    # -- rounds -----------------------------------------------------------------------------
    async def on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the validator's event loop (the dendrite's session lives there).

        From another thread's loop (the API's, the local network's) the coroutine is handed
        over; when the validator has no running loop of its own it runs where it is awaited.
        """
        loop = self._loop
        if loop is None or not loop.is_running() or loop is asyncio.get_running_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def run_round(self) -> RoundResult:
        """Run one round now and return its result (usable without :meth:`start`)."""
        if not self._setup_done:
            await asyncio.to_thread(self.setup)
        return await self.on_loop(self._run_round())

    async def _run_round(self) -> RoundResult:
        if self._round_lock is None:
            self._round_lock = asyncio.Lock()
        async with self._round_lock:
            assert self.runner is not None
            block = await asyncio.to_thread(self._current_block)
            number = self.rounds_issued + 1
            round_id = str(number)
            challenge = self.runner.issue(round_id)
            try:
                await asyncio.to_thread(self.issue_record.record, number, challenge.to_dict(private=True))
            except (WriteFailed, ValueError) as exc:
                self.challenges.discard(challenge.challenge_id)
                raise RoundNotIssued(f"round {number} not sent: it could not be recorded as issued: {exc}") from exc
            self.rounds_issued = number  # from here on, a restart goes on with round number + 1
            result = await self.runner.run(round_id=round_id, dendrite=self.dendrite, metagraph=self.metagraph,
                                           own_hotkey=self.hotkey, block=block, challenge=challenge)
            self.rounds_completed += 1
            self.last_round = result
            await asyncio.to_thread(self._publish_for_replicas, leaderboard=True)
            await asyncio.to_thread(self._save_state_logged)
            self._log_wandb(result)
            return result

    def _current_block(self) -> int | None:
        try:
            return int(self.subtensor.get_current_block())
        except Exception as exc:
            log.warning("could not read the current block: %s", exc)
            return None

    def _log_wandb(self, result: RoundResult) -> None:
        if self.wandb_run is None:
            return
        data: dict[str, Any] = {"round": int(result.round_id), "miners": len(result.miners)}
        for m in result.miners:
            data[f"score/uid{m.uid}"] = m.final_score
        try:
            self.wandb_run.log(data)
        except Exception as exc:
            log.warning("wandb log failed: %s: %s", type(exc).__name__, exc)

    # -- state ------------------------------------------------------------------------------
    def save_state(self) -> int:
        """Save the validator state, the miner history and the issued challenges as one snapshot;
        returns its generation.

        Raises:
            SnapshotSaveError: nothing was saved (the previous snapshot is still the newest); the
                message names the file that failed and starts with "disk full:" on a full disk.
        """
        with self._save_lock:
            hotkeys = {} if self.metagraph is None else {i: str(h) for i, h in enumerate(self.metagraph.hotkeys)}
            state = ValidatorState(
                leaderboard=self.leaderboard.to_dict(), rounds_completed=self.rounds_completed,
                last_weight_block=None if self.weight_setter is None else self.weight_setter.last_weight_block,
                hotkeys=hotkeys, rounds_issued=self.rounds_issued)
            files: dict[str, Any] = {STATE_FILE: state.to_bytes(), CHALLENGES_FILE: self.challenges.to_bytes()}
            history = getattr(self.scorer, "history", None)
            if history is not None and hasattr(history, "save"):
                files[HISTORY_FILE] = history.save
            snap = self.snapshots.save(files)
            self.last_snapshot = snap.generation
            return snap.generation

    def _save_state_logged(self) -> bool:
        """:meth:`save_state`, logging a failure (ERROR, one line) instead of raising; the next save retries."""
        try:
            self.save_state()
        except (SnapshotSaveError, StateSaveError, OSError) as exc:
            self.save_failures += 1
            self.last_save_error = str(exc)
            log.error("could not save the validator state (%d failures so far; retried after the next round): %s",
                      self.save_failures, exc)
            return False
        self.last_save_error = None
        return True

    # -- background loops -------------------------------------------------------------------
    def _build_loops(self) -> dict[str, Loop]:
        cfg = self.config

        async def sync_step() -> None:
            await asyncio.to_thread(self.sync_metagraph)

        async def round_step() -> None:
            await self._run_round()
            if cfg.max_rounds and self.rounds_completed >= cfg.max_rounds:
                log.info("--neuron.max_rounds %d reached; stopping", cfg.max_rounds)
                self.request_stop()

        async def weights_step() -> None:
            assert self.weight_setter is not None
            result = await asyncio.to_thread(self.weight_setter.set, self.leaderboard, self.metagraph)
            if result.success:
                if self._round_lock is None:
                    self._round_lock = asyncio.Lock()
                async with self._round_lock:  # snapshots are taken between rounds, never in the middle of one
                    await asyncio.to_thread(self._save_state_logged)
            await asyncio.to_thread(self._publish_for_replicas, leaderboard=True)

        async def retention_step() -> None:
            # With the API on, its own maintenance pass prunes; with --api.off the validator does.
            pruned = await asyncio.to_thread(self.store.prune_tracks, retention_days=cfg.api.retention_days)
            if pruned:
                log.info("pruned %d scored clips older than %g days", pruned, cfg.api.retention_days)

        round_deadline = cfg.scoring_budget_s + 7.0 * cfg.timeout_s + 60.0  # query (≤ 60 s clips) + scoring + slack
        loops = {
            "sync": Loop("sync", sync_step, interval_s=cfg.sync_interval_s, deadline_s=max(60.0, cfg.sync_interval_s)),
            "round": Loop("round", round_step, interval_s=cfg.round_interval_s, deadline_s=round_deadline),
            "weights": Loop("weights", weights_step, interval_s=cfg.weights_interval_s, deadline_s=300.0),
        }
        if self.store is not None and cfg.api is not None and cfg.api_off:
            loops["retention"] = Loop("retention", retention_step, interval_s=RETENTION_INTERVAL_S, deadline_s=300.0)
        return loops

    def start(self) -> "Validator":
        """Set up, start the loops in a background thread and the API; returns at once."""
        if self._started:
            return self
        self.setup()
        self._stop_requested.clear()
        self.loops = self._build_loops()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, args=(ready,), name="validator-loops", daemon=True)
        self._thread.start()
        ready.wait()
        self._started = True
        self._start_api()
        log.info("validator uid %s (%s) running on netuid %d", self.uid, self.hotkey, self.config.netuid)
        return self

    def _thread_main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready))
        finally:
            close = getattr(self.dendrite, "aclose_session", None)
            if close is not None:
                try:
                    loop.run_until_complete(close())
                except Exception as exc:
                    log.warning("closing the dendrite session failed: %s", exc)
            loop.close()
            self._loop = None

    async def _main(self, ready: threading.Event) -> None:
        self._loop_stop = asyncio.Event()
        self._round_lock = asyncio.Lock()
        tasks = [
            asyncio.create_task(self.loops["sync"].run_forever(self._loop_stop, run_first=False)),
            asyncio.create_task(self.loops["round"].run_forever(self._loop_stop)),
            asyncio.create_task(self.loops["weights"].run_forever(self._loop_stop, run_first=False)),
        ]
        if "retention" in self.loops:
            tasks.append(asyncio.create_task(self.loops["retention"].run_forever(self._loop_stop)))
        tasks += self._organic_worker_tasks(self._loop_stop)
        ready.set()
        await self._loop_stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _organic_worker_tasks(self, stop: asyncio.Event) -> list[asyncio.Task]:
        """The organic job queue in the store, worked on this loop (the gateway's dendrite lives
        here, so no call hops threads): ``--api.job_workers`` job runners, plus, with ``--api.off``,
        the webhook dispatcher (the API's lifespan runs it otherwise). API replicas
        (``tuneforge api serve``) and this validator's own API accept the jobs; the backends built
        here (:attr:`api_backends`: wake-ups, through Redis with ``--api.redis_url``) are the ones
        the in-process API uses, so a submission wakes these workers at once."""
        cfg = self.config
        if cfg.api is None or self.store is None:
            return []
        from tuneforge.api.backends import build_backends
        from tuneforge.api.context import ApiContext
        from tuneforge.api.jobs import JobRunner
        from tuneforge.api.webhooks import WebhookDispatcher

        backends = self.api_backends = build_backends(cfg.api, self.store)
        ctx = ApiContext(store=self.store, settings=cfg.api, gateway=self.organic, wake_jobs=backends.wake_jobs,
                         wake_webhooks=backends.wake_webhooks, nonces=backends.nonces)
        self.job_runner = JobRunner(ctx)
        waited = [backends.wake_jobs]
        wake_jobs = backends.wake_jobs.bind()
        tasks = [asyncio.create_task(self.job_runner.run(stop, wake_jobs, name=f"organic-{i}"))
                 for i in range(cfg.api.job_workers)]
        if cfg.api_off:
            waited.append(backends.wake_webhooks)
            tasks.append(asyncio.create_task(WebhookDispatcher(ctx).run(stop, backends.wake_webhooks.bind())))
        tasks += [asyncio.create_task(relay.relay(stop)) for relay in backends.relays() if relay in waited]
        log.info("working organic jobs from the store with %d workers", cfg.api.job_workers)
        return tasks

    def _start_api(self) -> None:
        cfg = self.config
        if cfg.api_off:
            return
        if cfg.api is None:
            log.warning("the HTTP API is not installed (tuneforge.api); running without it")
            return
        try:
            from tuneforge.api.service import ApiService
        except ImportError as exc:
            log.warning("tuneforge.api.service cannot be imported (%s); running without the HTTP API", exc)
            return
        self.api = ApiService.from_validator(self, cfg.api)
        self.api.start()

    def request_stop(self) -> None:
        """Ask the loops and :meth:`run` to finish (safe from signal handlers and other threads)."""
        self._stop_requested.set()
        loop, stop = self._loop, self._loop_stop
        if loop is not None and stop is not None and loop.is_running():
            loop.call_soon_threadsafe(stop.set)

    def stop(self) -> None:
        """Stop the loops (a round in progress is cancelled), the API, then save state. Idempotent."""
        if not self._started:
            return
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=60.0)
            if self._thread.is_alive():
                log.error("validator loops did not stop within 60 s")
        if self.api is not None:
            try:
                self.api.stop()
            except Exception as exc:
                log.error("stopping the API failed: %s: %s", type(exc).__name__, exc)
            self.api = None
        self._save_state_logged()
        self.scoring_pool.shutdown()
        if self.wandb_run is not None:
            try:
                self.wandb_run.finish()
            except Exception as exc:
                log.warning("wandb finish failed: %s", exc)
        self._started = False
        log.info("validator stopped after %d rounds; state saved in %s", self.rounds_completed, self.state_dir)

    def run(self) -> None:
        """Start, run until SIGINT/SIGTERM or ``--neuron.max_rounds``, then stop and save state."""
        self.start()
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, frame: self.request_stop())
        try:
            self._stop_requested.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def status(self) -> dict[str, Any]:
        """Counters for logs and the API's status page."""
        return {
            "uid": self.uid, "hotkey": self.hotkey, "rounds_completed": self.rounds_completed,
            "rounds_issued": self.rounds_issued,
            "state_saves": {"snapshot": self.last_snapshot, "failures": self.save_failures,
                            "last_error": self.last_save_error},
            "loops": {name: loop.status() for name, loop in self.loops.items()},
            "weights": None if self.weight_setter is None else self.weight_setter.status(),
            "scoring_budget_overruns": self.scoring_pool.budget_overruns,
            "organic_requests": self.organic.requests, "time": time.time(),
        }


def run_validator(validator: Validator) -> int:
    """Run ``validator`` until stopped; the process exit status (1 with a one-line error on a start-up failure)."""
    try:
        validator.run()
    except ValidatorStartupError as exc:
        log.error("validator could not start: %s", exc)
        return 1
    return 0
