"""The miner neuron: a real bittensor axon serving the three TuneForge synapses.

``Miner.start()`` checks registration, syncs the metagraph once, builds and warms the
generation backends, starts the axon (waiting until its port listens), announces it on chain
and starts the background metagraph re-sync; ``stop()`` undoes all of it and ``run()`` blocks
until SIGINT/SIGTERM. Wallet, chain connection, backends and port can be injected, so the local
network runs miners in-process. Handlers follow bittensor's rules: the parameter is named
``synapse``, blacklists return ``typing.Tuple[bool, str]``, priorities return ``float``, and
every forward is ``async`` with its work off the event loop. This module must not use
``from __future__ import annotations`` (it breaks ``axon.attach``).
"""

import asyncio
import logging
import signal
import threading
import time
import typing
from collections.abc import Sequence
from typing import Any

import bittensor as bt
from bittensor_wallet.errors import KeyFileError, PasswordError

import tuneforge
from tuneforge.chain import ChainUnreachable
from tuneforge.generation.base import BackendUnavailable, GenerationBackend
from tuneforge.miner.answer import answer, request_spec
from tuneforge.miner.blacklist import CallerPolicy, CallerRegistry
from tuneforge.miner.chain_sync import AxonPublisher, ChainSync
from tuneforge.miner.components import build_backends, build_wallet, connect_subtensor
from tuneforge.miner.config import MinerConfig
from tuneforge.miner.engine import (
    EngineStopped,
    GenerationEngine,
    GenerationFailed,
    QueueFull,
    WouldFinishLate,
)
from tuneforge.miner.health import MinerStats, SystemProbe
from tuneforge.netutils import (
    AxonNotServing,
    ExternalIpUnknown,
    PortInUse,
    bind_axon_host,
    detect_external_ip,
    start_axon,
    stop_axon,
)
from tuneforge.protocol import (
    DURATION_MIN,
    GPU_MODEL_NONE,
    HealthReportSynapse,
    MusicGenerationSynapse,
    PingSynapse,
    served_durations,
)
from tuneforge.spec import MusicSpec

__all__ = ["Miner", "MinerNotRegistered", "WalletUnusable", "run_miner", "STARTUP_ERRORS"]

logger = logging.getLogger(__name__)

#: bittensor's dendrite default, used when a request carries no timeout.
_DEFAULT_TIMEOUT_S = 12.0


class MinerNotRegistered(RuntimeError):
    """The wallet's hotkey is not registered on the subnet."""


class WalletUnusable(RuntimeError):
    """The wallet's keys are missing or cannot be read."""


def _caller(synapse: bt.Synapse) -> str | None:
    return synapse.dendrite.hotkey if synapse.dendrite is not None else None


class Miner:
    """A TuneForge miner. Parts not injected are built from ``config`` in :meth:`start`.

    Args:
        config: parsed settings.
        wallet: a ``bt.Wallet`` (needs ``hotkey`` and ``coldkeypub``); default from ``--wallet.*``.
        subtensor: anything with the bittensor 10.5 ``Subtensor`` interface; default connects.
        backend: one backend or one per device; default built from ``--generation.*``.
        port: axon port overriding ``--axon.port``.
        external_ip: address announced on chain overriding ``--axon.external_ip``.
    """

    def __init__(
        self,
        config: MinerConfig,
        *,
        wallet: Any = None,
        subtensor: Any = None,
        backend: GenerationBackend | Sequence[GenerationBackend] | None = None,
        port: int | None = None,
        external_ip: str | None = None,
    ) -> None:
        self.config = config
        self.wallet = wallet if wallet is not None else build_wallet(config)
        self.subtensor = subtensor
        if backend is None:
            self._injected_backends: list[GenerationBackend] | None = None
        elif isinstance(backend, Sequence):
            self._injected_backends = list(backend)
        else:
            self._injected_backends = [backend]
        self.port = int(port if port is not None else config.axon_port)
        self.external_ip = external_ip or config.axon_external_ip
        self.policy = CallerPolicy(min_stake=config.min_stake, allow_non_validators=config.allow_non_validators)
        self.stats = MinerStats()
        self.engine: GenerationEngine | None = None
        self.axon: Any = None
        self.sync: ChainSync | None = None
        self.probe: SystemProbe | None = None
        self._gpu_model: str | None = None
        self._genres: list[str] = []
        self._stop_requested = threading.Event()
        self._started = False
        self._lifecycle = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def hotkey(self) -> str:
        return self.wallet.hotkey.ss58_address

    @property
    def uid(self) -> int | None:
        return self.sync.uid if self.sync is not None else None

    @property
    def registry(self) -> CallerRegistry:
        return self.sync.registry if self.sync is not None else CallerRegistry()

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> "Miner":
        """Bring the miner up; returns once the axon listens. Raises on anything that would make it useless."""
        with self._lifecycle:
            if self._started:
                return self
            self._stop_requested.clear()
            try:
                self._start()
            except BaseException:
                self._teardown()
                raise
            self._started = True
        return self

    def _start(self) -> None:
        cfg = self.config
        try:
            _ = (self.wallet.hotkey, self.wallet.coldkeypub)  # load now: a missing key fails before any work
        except (KeyFileError, PasswordError) as exc:
            raise WalletUnusable(
                f"wallet {cfg.wallet_name}/{cfg.wallet_hotkey} under {cfg.wallet_path} is unusable: {exc} "
                f"(create it with btcli wallet create)"
            ) from exc
        if self.subtensor is None:
            self.subtensor = connect_subtensor(cfg)
        if not self.subtensor.is_hotkey_registered(hotkey_ss58=self.hotkey, netuid=cfg.netuid):
            raise MinerNotRegistered(
                f"hotkey {self.hotkey} is not registered on netuid {cfg.netuid}; register it first "
                f"(btcli subnet register --netuid {cfg.netuid} --wallet.name {cfg.wallet_name} "
                f"--wallet.hotkey {cfg.wallet_hotkey})"
            )
        self.sync = ChainSync(
            subtensor=self.subtensor,
            netuid=cfg.netuid,
            hotkey=self.hotkey,
            interval_s=cfg.resync_interval_s,
            on_step=self._log_status,
        )
        self.sync.run_step()

        backends = self._injected_backends if self._injected_backends is not None else build_backends(cfg)
        self.engine = GenerationEngine(backends, queue_size=cfg.queue_size, stats=self.stats)
        if cfg.warmup_seconds > 0:
            self.engine.warm_up(MusicSpec(prompt="warm-up", duration_seconds=max(DURATION_MIN, cfg.warmup_seconds), seed=0))
        self.engine.start()
        self._genres = self.engine.supported_genres()
        on_gpu = any(str(getattr(b, "device", "cpu")).startswith("cuda") for b in backends)
        self.probe = SystemProbe(probe_gpu=on_gpu)
        self._gpu_model = self.probe.gpu_model()

        pinned_ip = self.external_ip
        external_ip = pinned_ip or detect_external_ip()
        self.axon = bt.Axon(
            wallet=self.wallet,
            port=self.port,
            ip=cfg.axon_ip,
            external_ip=external_ip,
            external_port=cfg.axon_external_port or self.port,
            max_workers=cfg.axon_max_workers,
        )
        self._attach_handlers(self.axon)
        bind_axon_host(self.axon, cfg.axon_ip)
        start_axon(self.axon, host=cfg.axon_ip)

        self.sync.publisher = AxonPublisher(
            subtensor=self.subtensor,
            netuid=cfg.netuid,
            axon=self.axon,
            detect_ip=None if pinned_ip else detect_external_ip,
        )
        if self.sync.uid is not None:
            self.sync.publisher.reconcile(self.sync.metagraph, self.sync.uid)
        self.sync.start()
        logger.info(
            "miner uid %s serving %s on port %d: %d device(s), queue %d, model %s",
            self.uid,
            self.hotkey,
            self.port,
            self.engine.worker_count,
            cfg.queue_size,
            self.engine.model_id,
        )

    def _teardown(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        if self.axon is not None and self.axon.started:
            stop_axon(self.axon, host=self.config.axon_ip)
        if self.engine is not None:
            self.engine.stop()

    def stop(self) -> None:
        """Stop serving: the re-sync loop, the axon, then the generation workers. Idempotent."""
        with self._lifecycle:
            if not self._started:
                return
            self._teardown()
            self._started = False
        self._stop_requested.set()
        logger.info("miner stopped")

    def request_stop(self) -> None:
        """Ask :meth:`run` to return (safe from signal handlers and other threads)."""
        self._stop_requested.set()

    def run(self) -> None:
        """Start, serve until SIGINT/SIGTERM (or :meth:`request_stop`), then stop."""
        self.start()
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, frame: self._stop_requested.set())
        try:
            self._stop_requested.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def _log_status(self, sync: ChainSync) -> None:
        snap = self.stats.snapshot()
        logger.info(
            "block %s uid %s | generated %d (avg %s ms) | errors/h %d | refused busy %d | gave up %d | queue %d",
            sync.block,
            sync.uid,
            snap.generations_completed,
            "-" if snap.average_generation_time_ms is None else f"{snap.average_generation_time_ms:.0f}",
            snap.errors_last_hour,
            snap.refused_busy,
            snap.gave_up,
            self.engine.queue_depth if self.engine is not None else 0,
        )

    # -- axon wiring ------------------------------------------------------------------------
    def _attach_handlers(self, axon: Any) -> None:
        axon.attach(
            forward_fn=self.forward_generation,
            blacklist_fn=self.blacklist_generation,
            priority_fn=self.priority_generation,
        )
        axon.attach(forward_fn=self.forward_ping, blacklist_fn=self.blacklist_ping, priority_fn=self.priority_ping)
        axon.attach(forward_fn=self.forward_health, blacklist_fn=self.blacklist_health, priority_fn=self.priority_health)

    def _deadline_for(self, synapse: bt.Synapse) -> float:
        """Monotonic instant by which generation must finish to answer within ``synapse.timeout``.

        The time the request spent in transit (from the dendrite's nonce, a wall-clock
        nanosecond stamp) is subtracted when it is plausible; the safety margin covers
        encoding and the trip back.
        """
        timeout = float(synapse.timeout or _DEFAULT_TIMEOUT_S)
        in_transit = 0.0
        nonce = synapse.dendrite.nonce if synapse.dendrite is not None else None
        if nonce:
            elapsed = (time.time_ns() - int(nonce)) / 1e9
            if 0.0 <= elapsed < timeout:
                in_transit = elapsed
        return time.monotonic() + timeout - in_transit - self.config.timeout_margin_s

    # -- MusicGenerationSynapse -------------------------------------------------------------
    def blacklist_generation(self, synapse: MusicGenerationSynapse) -> typing.Tuple[bool, str]:  # noqa: UP006
        verdict = self.policy.check_generation(_caller(synapse), self.registry)
        if verdict.refused:
            logger.debug("refused generation: %s", verdict.reason)
        return verdict.as_tuple()

    def priority_generation(self, synapse: MusicGenerationSynapse) -> float:
        return self.policy.priority(_caller(synapse), self.registry)

    async def forward_generation(self, synapse: MusicGenerationSynapse) -> MusicGenerationSynapse:
        """Generate the requested clip, or return the synapse without audio when that is impossible in time."""
        deadline = self._deadline_for(synapse)
        synapse.audio_b64 = None
        synapse.sample_rate = None
        synapse.generation_time_ms = None
        synapse.model_id = None
        caller = _caller(synapse)
        challenge = synapse.challenge_id or "-"
        spec = request_spec(synapse)
        synapse.reference_audio = None  # unused by the backends; not worth echoing back
        engine = self.engine
        if engine is None:
            logger.warning("generation %s refused: miner not started", challenge)
            return synapse
        if spec.duration_seconds > engine.max_duration_seconds:
            logger.info(
                "generation %s refused: %.1f s requested, backend max %.1f s",
                challenge,
                spec.duration_seconds,
                engine.max_duration_seconds,
            )
            return synapse
        try:
            result = await answer(synapse, engine, deadline=deadline, spec=spec)
        except QueueFull as exc:
            self.stats.record_refused_busy()
            logger.info("generation %s from %s refused at once: %s", challenge, caller, exc)
            return synapse
        except WouldFinishLate as exc:
            self.stats.record_gave_up()
            logger.info("generation %s from %s given up (answered empty, not late): %s", challenge, caller, exc)
            return synapse
        except EngineStopped as exc:
            logger.info("generation %s refused: %s", challenge, exc)
            return synapse
        except GenerationFailed as exc:
            logger.warning("generation %s failed: %s", challenge, exc)
            return synapse
        logger.info(
            "generation %s for %s: %.1f s of audio in %d ms on %s",
            challenge,
            caller,
            spec.duration_seconds,
            synapse.generation_time_ms,
            result.device,
        )
        return synapse

    # -- PingSynapse ------------------------------------------------------------------------
    def blacklist_ping(self, synapse: PingSynapse) -> typing.Tuple[bool, str]:  # noqa: UP006
        verdict = self.policy.check_ping(_caller(synapse), self.registry)
        if verdict.refused:
            logger.debug("refused ping: %s", verdict.reason)
        return verdict.as_tuple()

    def priority_ping(self, synapse: PingSynapse) -> float:
        return self.policy.priority(_caller(synapse), self.registry)

    async def forward_ping(self, synapse: PingSynapse) -> PingSynapse:
        """Report capabilities as they are now (availability reflects queue space).

        ``supported_durations`` is the network's form: the discrete lengths served, capped by
        the backend's maximum (``[5, 10, 15, 20, 30]`` for a 30 s backend); ``gpu_model`` is
        "N/A" on a CPU-only miner, as the network's miners send it.
        """
        engine = self.engine
        synapse.version = tuneforge.__version__
        if engine is None:
            synapse.is_available = False
            return synapse
        synapse.is_available = engine.is_accepting
        synapse.supported_genres = list(self._genres)
        synapse.supported_durations = served_durations(engine.max_duration_seconds)
        synapse.gpu_model = self._gpu_model or GPU_MODEL_NONE
        synapse.max_concurrent = engine.worker_count
        return synapse

    # -- HealthReportSynapse ----------------------------------------------------------------
    def blacklist_health(self, synapse: HealthReportSynapse) -> typing.Tuple[bool, str]:  # noqa: UP006
        verdict = self.policy.check_generation(_caller(synapse), self.registry)
        if verdict.refused:
            logger.debug("refused health report: %s", verdict.reason)
        return verdict.as_tuple()

    def priority_health(self, synapse: HealthReportSynapse) -> float:
        return self.policy.priority(_caller(synapse), self.registry)

    async def forward_health(self, synapse: HealthReportSynapse) -> HealthReportSynapse:
        """Fill the report from the engine's counters and a fresh resource sample."""
        self.fill_health(synapse, await asyncio.to_thread(self.probe.sample) if self.probe is not None else None)
        return synapse

    def fill_health(self, synapse: HealthReportSynapse, usage: Any) -> HealthReportSynapse:
        """Copy counters (and ``usage``, a ``SystemUsage`` or None) into ``synapse``.

        What cannot be measured here (no GPU, no generation yet, no resource sample) is sent as
        0, the network's default: its peers reject ``null`` in these fields.
        """
        snap = self.stats.snapshot()
        synapse.generations_completed = int(snap.generations_completed)
        synapse.average_generation_time_ms = float(snap.average_generation_time_ms or 0.0)
        synapse.errors_last_hour = int(snap.errors_last_hour)
        synapse.uptime_seconds = float(snap.uptime_seconds)
        synapse.cpu_percent = _zero_if_none(getattr(usage, "cpu_percent", None))
        synapse.memory_percent = _zero_if_none(getattr(usage, "memory_percent", None))
        synapse.gpu_utilization = _zero_if_none(getattr(usage, "gpu_utilization", None))
        synapse.gpu_memory_used_mb = _zero_if_none(getattr(usage, "gpu_memory_used_mb", None))
        return synapse


def _zero_if_none(value: float | None) -> float:
    return 0.0 if value is None else float(value)


#: Start-up failures that get a one-line message and exit status 1 instead of a traceback.
STARTUP_ERRORS = (
    MinerNotRegistered,
    WalletUnusable,
    ChainUnreachable,
    BackendUnavailable, GenerationFailed, PortInUse,
    AxonNotServing,
    ExternalIpUnknown,
)


def run_miner(miner: Miner) -> int:
    """Run ``miner`` until SIGINT/SIGTERM; returns the process exit status (1 on a start-up failure)."""
    try:
        miner.run()
    except STARTUP_ERRORS as exc:
        logger.error("miner could not start: %s", exc)
        return 1
    return 0
