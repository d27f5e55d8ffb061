"""A whole TuneForge subnet in one process.

``LocalNetwork`` brings up the in-process local chain, registers one validator and N miners
with fresh wallets, starts each miner on a real bittensor axon bound to 127.0.0.1 (one or more
of them deliberately poor, and with ``hostile`` kinds one hostile miner per kind, see
:mod:`tuneforge.localnet.hostile`), and drives a validator with a real dendrite through R
rounds: challenge → generation → strict intake → scoring → EMA → weights set on the chain and
read back. Nothing leaves 127.0.0.1: the external-IP lookups bittensor makes are pinned first.

With ``seed`` the run is reproducible miner by miner: wallets are derived from the seed (the
same hotkeys in every run) and so is the validator's challenge secret (the same challenges and
seeds), so a run with hostile miners can be compared with one without them.

With ``serve`` the validator then runs its own loops (rounds, weights, metagraph sync) as on a
real network: the chain produces a block every ``block_seconds`` and every further round is
recorded like a scripted one (:mod:`tuneforge.localnet.serving`). The API port is checked
before anything starts (:meth:`LocalNetwork.preflight`).
"""

import asyncio
import hashlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneforge import netutils
from tuneforge.chain import get_local_chain, reset_local_chain
from tuneforge.fsutil import atomic_write_bytes
from tuneforge.generation import GenerationSettings, build_backend
from tuneforge.generation.base import GenerationBackend
from tuneforge.localnet.hostile import RelayTarget
from tuneforge.localnet.hostile_kinds import HOSTILE_KINDS
from tuneforge.localnet.leaderboard_picture import write_leaderboard_picture
from tuneforge.localnet.poor_backends import POOR_KINDS, make_poor_backend
from tuneforge.localnet.report import format_leaderboard, leaderboard_rows, save_round_logged, write_json
from tuneforge.localnet.serving import RoundRecorder, start_block_production
from tuneforge.localnet.wallets import make_wallet

__all__ = ["LocalnetOptions", "LocalNetwork", "LocalnetStartError", "MinerSlot"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
VALIDATOR_STAKE = 10_000.0
MINER_STAKE = 10.0


class LocalnetStartError(RuntimeError):
    """The local network cannot start as asked; the message is one line saying what to change."""


@dataclass
class LocalnetOptions:
    """Settings of one local network run (see ``tuneforge localnet --help``)."""

    miners: int = 4
    rounds: int = 3
    out: Path | None = None
    serve: bool = False
    bad_miners: int = 1
    netuid: int = 1
    sample_size: int | None = None  # None: every miner each round
    timeout_s: float = 30.0
    scoring_workers: int = 2
    blocks_per_round: int = 5
    api_port: int | None = None  # None: a free port
    round_interval_s: float = 300.0  # --serve: seconds between rounds (and weight updates) after the scripted ones
    block_seconds: float = 12.0  # --serve: the chain produces a block every this many seconds (as on finney)
    demo_credits: int = 10_000
    hostile: tuple[str, ...] = ()  # one hostile miner per kind, after the others
    seed: int | None = None  # fixed wallets and challenge secret: runs comparable miner by miner
    clip_seconds: tuple[int, int] | None = None  # challenge durations (default 5-30 s)

    def validate(self) -> None:
        if self.miners < 1:
            raise ValueError("--miners must be at least 1")
        if self.rounds < 0:
            raise ValueError("--rounds must be 0 or more")
        if not self.round_interval_s > 0:
            raise ValueError("--round-interval must be positive")
        if not self.block_seconds > 0:
            raise ValueError("--block-time must be positive")
        if self.api_port is not None and not 0 < self.api_port < 65536:
            raise ValueError(f"--api-port must be 1-65535, got {self.api_port}")
        if not 0 <= self.bad_miners <= self.miners:
            raise ValueError("--bad-miners must be between 0 and --miners")
        unknown = [k for k in self.hostile if k not in HOSTILE_KINDS]
        if unknown:
            raise ValueError(f"--hostile: unknown kind {', '.join(unknown)} (kinds: {', '.join(HOSTILE_KINDS)})")
        if len(set(self.hostile)) != len(self.hostile):
            raise ValueError("--hostile names a kind twice")
        if "disguised-copy" in self.hostile and self.miners - self.bad_miners < 1:
            raise ValueError("--hostile disguised-copy needs an honest miner to copy (--miners above --bad-miners)")
        if self.clip_seconds is not None:
            lo, hi = self.clip_seconds
            if not 1 <= lo <= hi <= 180:
                raise ValueError("--clip-seconds must be within 1-180 s (LOW or LOW-HIGH)")


@dataclass
class MinerSlot:
    """One local miner: its wallet, chain identity, backend and running neuron."""

    index: int
    wallet: Any
    backend_name: str
    miner: Any = None
    uid: int | None = None
    port: int = 0
    hostile: str | None = None  # the hostile kind, None for an honest (or merely poor) miner

    @property
    def hotkey(self) -> str:
        return self.wallet.hotkey.ss58_address


@dataclass
class LocalNetwork:
    """The local subnet. Use as ``with LocalNetwork(opts) as net: net.run()``."""

    options: LocalnetOptions
    out_dir: Path = field(init=False)
    chain: Any = field(init=False, default=None)
    validator: Any = field(init=False, default=None)
    validator_wallet: Any = field(init=False, default=None)
    slots: list[MinerSlot] = field(init=False, default_factory=list)
    api_info: dict[str, Any] | None = field(init=False, default=None)
    api_port: int | None = field(init=False, default=None)
    last_breakdowns: dict[str, dict[str, Any]] = field(init=False, default_factory=dict)  # hotkey -> last breakdown
    recorder: RoundRecorder | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.options.validate()
        if self.options.out is None:
            # Kept after the run (it holds the wallets, clips and breakdowns); its path is printed.
            self.out_dir = Path(tempfile.mkdtemp(prefix="tuneforge-localnet-"))
        else:
            self.out_dir = Path(self.options.out).expanduser().resolve()
            self.out_dir.mkdir(parents=True, exist_ok=True)

    # -- bring-up ---------------------------------------------------------------------------
    def __enter__(self) -> "LocalNetwork":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def preflight(self) -> None:
        """What would fail later, checked before anything starts. Raises :class:`LocalnetStartError`."""
        port = self.options.api_port
        if self.options.serve and port is not None and not netutils.port_is_free(LOOPBACK, port):
            raise LocalnetStartError(
                f"--api-port {port}: {LOOPBACK}:{port} is already in use; choose another --api-port, "
                f"or leave it out for a free port")

    def start(self) -> None:
        """Chain, wallets, registrations, miners on 127.0.0.1, the validator (set up, not looping)."""
        opts = self.options
        self.preflight()
        netutils.pin_external_ip(LOOPBACK)
        reset_local_chain()
        self.chain = get_local_chain(weights_rate_limit=1)
        self.chain.create_subnet(opts.netuid)
        wallets_dir = self.out_dir / "wallets"
        self.validator_wallet = make_wallet(wallets_dir, "validator", seed=opts.seed)
        self.chain.register_neuron(
            opts.netuid, self.validator_wallet.hotkey.ss58_address,
            self.validator_wallet.coldkeypub.ss58_address, stake=VALIDATOR_STAKE, validator_permit=True,
        )
        good = build_backend(GenerationSettings(backend="procedural"))
        # Register every miner before starting any: a miner reads the metagraph when it starts,
        # and must know the others (the relay of a disguised-copy run calls an honest miner).
        for i in range(opts.miners):
            poor = i >= opts.miners - opts.bad_miners
            kind = POOR_KINDS[(i - (opts.miners - opts.bad_miners)) % len(POOR_KINDS)] if poor else "procedural"
            self.slots.append(MinerSlot(index=i, wallet=make_wallet(wallets_dir, f"miner{i}", seed=opts.seed),
                                        backend_name=kind))
        for j, hostile in enumerate(opts.hostile):
            wallet = make_wallet(wallets_dir, f"hostile-{hostile}", seed=opts.seed)
            self.slots.append(MinerSlot(index=opts.miners + j, wallet=wallet, backend_name=f"hostile:{hostile}",
                                        hostile=hostile))
        for slot in self.slots:
            slot.uid = self.chain.register_neuron(
                opts.netuid, slot.hotkey, slot.wallet.coldkeypub.ss58_address, stake=MINER_STAKE, validator_permit=False,
            )
        for slot in self.slots:
            if slot.hostile is not None:
                slot.miner = self._start_miner(slot, good, hostile=slot.hostile)
            else:
                backend = good if slot.backend_name == "procedural" else make_poor_backend(slot.backend_name, good)
                slot.miner = self._start_miner(slot, backend)
            log.info("miner %d/%d up: uid %s on %s:%d (%s)", slot.index + 1, len(self.slots), slot.uid, LOOPBACK,
                     slot.port, slot.backend_name)
        # Registration counts as a weight update on chain: step past the rate limit.
        self.chain.step_block(2)
        self.validator = self._build_validator()
        self.validator.setup()
        self._write_localnet_json()

    def _start_miner(self, slot: MinerSlot, backend: GenerationBackend, *, hostile: str | None = None) -> Any:
        from tuneforge.miner.config import MinerConfig
        from tuneforge.miner.neuron import Miner

        port = netutils.free_port(LOOPBACK)
        config = MinerConfig(
            netuid=self.options.netuid,
            wallet_name=f"hostile-{hostile}" if hostile else f"miner{slot.index}",
            wallet_hotkey="default",
            wallet_path=str(self.out_dir / "wallets"),
            network="localchain",
            axon_port=port,
            axon_ip=LOOPBACK,
            axon_external_ip=LOOPBACK,
            resync_interval_s=30.0,
            warmup_seconds=0.5,
            # A relayer can only copy a miner that serves it: the worst case, so the copy
            # detector (not the blacklist) is what a disguised-copy run tests.
            allow_non_validators="disguised-copy" in self.options.hostile,
        )
        if hostile is not None:
            from tuneforge.localnet.hostile import HostileMiner

            miner = HostileMiner(config, kind=hostile, relay=self._relay_target() if hostile == "disguised-copy" else None,
                                 wallet=slot.wallet, subtensor=self.chain, backend=backend, port=port,
                                 external_ip=LOOPBACK)
        else:
            miner = Miner(config, wallet=slot.wallet, subtensor=self.chain, backend=backend, port=port,
                          external_ip=LOOPBACK)
        miner.start()
        slot.port = port
        return miner

    def _relay_target(self) -> RelayTarget:
        """The first honest miner, as the disguised copy's victim; its seed is read from the
        validator's challenge store (the leak a relayer would need)."""
        victim = next(s for s in self.slots if s.hostile is None and s.backend_name == "procedural")

        def seed_of(challenge_id: str, hotkey: str) -> int | None:
            challenge = None if self.validator is None else self.validator.challenges.get(challenge_id)
            return None if challenge is None else challenge.seed_for(hotkey)

        return RelayTarget(axon=victim.miner.axon.info(), hotkey=victim.hotkey, seed_of=seed_of)

    def _write_fixed_secret(self, state_dir: Path) -> None:
        """With ``seed``: the validator's challenge secret derived from it (same challenges every run)."""
        secret = hashlib.sha256(f"tuneforge-localnet-secret/{int(self.options.seed or 0)}".encode()).hexdigest()
        atomic_write_bytes(state_dir / "challenge_secret", (secret + "\n").encode("ascii"), mode=0o600)

    def _build_validator(self) -> Any:
        from tuneforge.validator.config import build_parser, parse_validator_config
        from tuneforge.validator.neuron import Validator

        opts = self.options
        state_dir = self.out_dir / "validator"
        argv = [
            "--netuid", str(opts.netuid),
            "--subtensor.network", "localchain",
            "--wallet.name", "validator", "--wallet.hotkey", "default",
            "--wallet.path", str(self.out_dir / "wallets"),
            "--neuron.sample_size", str(opts.sample_size or (opts.miners + len(opts.hostile))),
            "--neuron.timeout", str(opts.timeout_s),
            "--neuron.scoring_workers", str(opts.scoring_workers),
            "--neuron.state_dir", str(state_dir),
            "--neuron.round_interval", str(opts.round_interval_s),
            # While serving, weights follow every round, as the scripted rounds do.
            "--neuron.weights_interval", str(opts.round_interval_s),
        ]
        api_flags = "--api.port" in build_parser().format_help()
        if opts.serve:
            if not api_flags:
                raise RuntimeError("--serve needs the HTTP API package (tuneforge.api), which is not installed")
            self.api_port = opts.api_port or netutils.free_port(LOOPBACK)
            argv += ["--api.host", LOOPBACK, "--api.port", str(self.api_port),
                     "--api.database_url", f"sqlite:///{state_dir / 'tuneforge.db'}",
                     "--api.audio_dir", str(state_dir / "audio"),
                     "--api.webhook_allow_private"]  # everything here lives on 127.0.0.1
        elif api_flags:
            argv += ["--api.off"]
        config = parse_validator_config(argv)
        config.challenge_durations = opts.clip_seconds
        if opts.seed is not None:
            self._write_fixed_secret(state_dir)
        return Validator(config, wallet=self.validator_wallet, subtensor=self.chain)

    # -- rounds -------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Run the scripted rounds, set weights after each, write outputs; returns the leaderboard rows."""
        return asyncio.run(self._run_rounds())

    async def _run_rounds(self) -> list[dict[str, Any]]:
        opts = self.options
        last = self.last_breakdowns
        try:
            for r in range(1, opts.rounds + 1):
                started = time.monotonic()
                log.info("round %d/%d: sending a challenge to %d miners ...", r, opts.rounds, len(self.slots))
                result = await self.validator.run_round()
                save_round_logged(self.out_dir, result)
                for m in result.miners:
                    last[m.hotkey] = m.breakdown
                self.chain.step_block(opts.blocks_per_round)
                weights = await asyncio.to_thread(self.validator.set_weights_now)
                scores = ", ".join(f"uid{m.uid}={m.final_score:.3f}" for m in sorted(result.miners, key=lambda m: m.uid))
                log.info(
                    "round %d/%d done in %.1f s: %r | %s | weights %s",
                    r, opts.rounds, time.monotonic() - started, result.challenge.prompt[:70], scores,
                    "set" if getattr(weights, "success", False) else f"not set ({getattr(weights, 'reason', '?')})",
                )
        finally:
            close = getattr(self.validator.dendrite, "aclose_session", None)
            if close is not None:
                await close()
        return self._write_leaderboard(last)

    def chain_weights(self) -> dict[int, float]:
        """uid → weight the validator set on chain, normalised to sum 1 (read back from the chain)."""
        vuid = self.chain.get_uid_for_hotkey_on_subnet(self.validator_wallet.hotkey.ss58_address, self.options.netuid)
        for uid, pairs in self.chain.weights(self.options.netuid):
            if uid == vuid:
                total = float(sum(w for _, w in pairs)) or 1.0
                return {int(dest): w / total for dest, w in pairs}
        return {}

    def _write_leaderboard(self, last: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        backends = {s.hotkey: s.backend_name for s in self.slots}
        rows = leaderboard_rows(self.validator.leaderboard_snapshot(), self.chain_weights(), last, backends)
        block = self.chain.get_current_block()
        write_json(self.out_dir / "leaderboard.json", {"netuid": self.options.netuid, "block": block, "miners": rows})
        write_leaderboard_picture(self.out_dir, rows, netuid=self.options.netuid, block=block)  # .png or .svg
        return rows

    def _write_localnet_json(self) -> None:
        data: dict[str, Any] = {
            "netuid": self.options.netuid,
            "validator": {
                "wallet_path": str(self.out_dir / "wallets"),
                "wallet_name": "validator",
                "hotkey_name": "default",
                "hotkey_ss58": self.validator_wallet.hotkey.ss58_address,
            },
            "miners": [
                {"uid": s.uid, "hotkey": s.hotkey, "ip": LOOPBACK, "port": s.port, "backend": s.backend_name}
                for s in self.slots
            ],
        }
        if self.api_info is not None:
            data["api"] = self.api_info
        write_json(self.out_dir / "localnet.json", data)

    # -- serving ----------------------------------------------------------------------------
    def start_serving(self) -> dict[str, Any]:
        """Start the validator's loops and the HTTP API on 127.0.0.1 and create a demo API account.

        Returns ``{"url", "api_key", "account_id"}`` (also written to ``localnet.json``). Non-blocking.
        """
        from tuneforge.api.admin import create_demo_account

        # The validator's own loops need time to pass on chain: blocks from now on, and every
        # round they run recorded under rounds/ with a fresh leaderboard.json.
        start_block_production(self.chain, self.options.block_seconds)
        self.recorder = RoundRecorder(validator=self.validator, out_dir=self.out_dir,
                                      write_leaderboard=self._write_leaderboard, last_breakdowns=self.last_breakdowns)
        self.recorder.start()
        self.validator.start()
        if self.validator.api is None:
            raise RuntimeError("the HTTP API did not start; see the log above")
        url = self.validator.api.url
        account_id, api_key = create_demo_account(self.validator.store, credits=self.options.demo_credits)
        self.api_info = {"url": url, "api_key": api_key, "account_id": account_id}
        self._write_localnet_json()
        return self.api_info

    def serve(self) -> None:
        """:meth:`start_serving`, print how to reach it, then block until SIGINT/SIGTERM."""
        info = self.start_serving()
        url, api_key = info["url"], info["api_key"]
        log.info("API ready at %s (interactive docs: %s/docs)", url, url)
        log.info(
            "try: curl -s -X POST %s/api/v1/music/generate -H 'Authorization: Bearer %s' "
            "-H 'Content-Type: application/json' -d '{\"prompt\": \"calm piano in C major\", \"duration_seconds\": 8}'",
            url, api_key,
        )
        log.info("serving until SIGINT/SIGTERM; details in %s", self.out_dir / "localnet.json")
        self.validator.run()  # blocks until a signal, then stops the loops and the API and saves state

    def stop(self) -> None:
        """Stop the validator, the miners and the chain; keep --out files."""
        if self.validator is not None:
            self.validator.stop()
        if self.recorder is not None:
            self.recorder.stop()  # after the validator: its last round is recorded too
            self.recorder = None
        for slot in self.slots:
            if slot.miner is not None:
                try:
                    slot.miner.stop()
                except Exception as exc:  # keep stopping the others; report this one
                    log.error("stopping miner %d failed: %s: %s", slot.index, type(exc).__name__, exc)
        reset_local_chain()
        netutils.restore_external_ip()

    def print_summary(self, rows: list[dict[str, Any]]) -> str:
        """The leaderboard table plus where the files are."""
        picture = next((p.name for p in sorted(self.out_dir.glob("leaderboard.*")) if p.suffix in (".png", ".svg")), None)
        names = ", ".join(["localnet.json", "leaderboard.json"] + ([picture] if picture else []) + ["rounds/"])
        return f"{format_leaderboard(rows)}\n\noutputs ({names}): {self.out_dir}"
