"""An in-process chain that answers the calls TuneForge neurons make to ``bt.Subtensor``.

bittensor 10.5's ``MockSubtensor`` cannot build a metagraph, set weights or serve an axon, makes
unknown hotkeys look registered (its substrate is a ``MagicMock``) and keeps its state in one
process-global dict. ``LocalChain`` is a standalone replacement with its own state behind a lock:
subnets, registration with stake, validator permits (top-K by stake, or explicit), axon
endpoints, u16 weights with the real chain's refusals (unregistered hotkey, no permit, rate
limit, version key), and a block counter stepped by hand or by a background thread. Reads return
bittensor's own types (``NeuronInfo``, ``NeuronInfoLite``, ``AxonInfo``, ``ExtrinsicResponse``) and
``metagraph()`` returns a real ``bt.Metagraph`` synced from this chain, so the neurons run the same
code against it as against subtensor. Historical ``block=`` reads return the current state.
"""

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import bittensor as bt
import numpy as np
from bittensor.core.chain_data import AxonInfo, NeuronInfo, NeuronInfoLite
from bittensor.core.settings import version_as_int
from bittensor.core.types import ExtrinsicResponse
from bittensor.utils.balance import Balance
from bittensor.utils.weight_utils import convert_weights_and_uids_for_emit

__all__ = [
    "LocalChain",
    "LocalChainError",
    "LocalMetagraph",
    "get_local_chain",
    "reset_local_chain",
    "DEFAULT_WEIGHTS_RATE_LIMIT",
    "DEFAULT_MAX_ALLOWED_VALIDATORS",
]

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS_RATE_LIMIT = 100  # blocks, as on finney
DEFAULT_MAX_ALLOWED_VALIDATORS = 64
DEFAULT_MAX_ALLOWED_UIDS = 256
DEFAULT_TEMPO = 360


class LocalChainError(Exception):
    """A local-chain administrative call was refused (unknown subnet, hotkey already registered, ...)."""


@dataclass
class _Neuron:
    uid: int
    hotkey: str
    coldkey: str
    stake_rao: int
    registered_at: int
    last_update: int
    permit_override: bool | None = None
    validator_permit: bool = False
    axon: AxonInfo | None = None
    weights: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class _Subnet:
    netuid: int
    max_allowed_uids: int
    max_allowed_validators: int
    weights_rate_limit: int
    weights_version: int
    tempo: int
    neurons: dict[int, _Neuron] = field(default_factory=dict)

    def uid_of(self, hotkey: str) -> int | None:
        for uid, neuron in self.neurons.items():
            if neuron.hotkey == hotkey:
                return uid
        return None


class LocalMetagraph(bt.Metagraph):
    """A real ``bt.Metagraph`` whose ``sync`` reads a ``LocalChain`` under its lock (a consistent snapshot)."""

    def sync(self, block: int | None = None, lite: bool | None = None, subtensor: Any = None) -> None:
        chain = subtensor if subtensor is not None else self.subtensor
        lock = getattr(chain, "lock", None)
        if lock is None:
            super().sync(block=block, lite=lite, subtensor=subtensor)
            return
        with lock:
            super().sync(block=block, lite=lite, subtensor=subtensor)


class LocalChain:
    """A thread-safe, in-memory subtensor for one process (the local network and the tests).

    Args:
        weights_rate_limit: default ``weights_rate_limit`` (blocks) of new subnets.
        max_allowed_validators: default number of validator permits (top-K by stake) of new subnets.
        auto_step_seconds: when given, a daemon thread produces one block every that many seconds.
        start_block: the chain's first block number.
    """

    network = "localchain"
    chain_endpoint = "localchain"

    def __init__(
        self,
        *,
        weights_rate_limit: int = DEFAULT_WEIGHTS_RATE_LIMIT,
        max_allowed_validators: int = DEFAULT_MAX_ALLOWED_VALIDATORS,
        auto_step_seconds: float | None = None,
        start_block: int = 0,
    ) -> None:
        if weights_rate_limit < 0 or max_allowed_validators < 0 or start_block < 0:
            raise ValueError("weights_rate_limit, max_allowed_validators and start_block must be >= 0")
        self.lock = threading.RLock()
        self._block = int(start_block)
        self._subnets: dict[int, _Subnet] = {}
        self._default_rate_limit = int(weights_rate_limit)
        self._default_max_validators = int(max_allowed_validators)
        self._stepper: threading.Thread | None = None
        self._stop_stepping = threading.Event()
        if auto_step_seconds is not None:
            self.start_auto_step(auto_step_seconds)

    # ---- blocks ------------------------------------------------------------------------------

    def get_current_block(self) -> int:
        with self.lock:
            return self._block

    @property
    def block(self) -> int:
        return self.get_current_block()

    def step_block(self, n: int = 1) -> int:
        """Produce ``n`` blocks; returns the new current block."""
        if n < 0:
            raise ValueError(f"cannot step a negative number of blocks ({n})")
        with self.lock:
            self._block += int(n)
            return self._block

    def start_auto_step(self, seconds: float = 12.0) -> None:
        """Produce a block every ``seconds`` in a daemon thread until ``stop_auto_step``/``close``."""
        if seconds <= 0:
            raise ValueError(f"auto_step_seconds must be positive, got {seconds}")
        self.stop_auto_step()
        self._stop_stepping.clear()

        def _run() -> None:
            while not self._stop_stepping.wait(seconds):
                self.step_block()

        self._stepper = threading.Thread(target=_run, name="localchain-blocks", daemon=True)
        self._stepper.start()
        log.info("local chain produces a block every %.3g s", seconds)

    def stop_auto_step(self) -> None:
        if self._stepper is not None:
            self._stop_stepping.set()
            self._stepper.join(timeout=5.0)
            self._stepper = None

    def close(self) -> None:
        self.stop_auto_step()

    def __enter__(self) -> "LocalChain":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- subnets -----------------------------------------------------------------------------

    def create_subnet(
        self,
        netuid: int,
        *,
        max_allowed_uids: int = DEFAULT_MAX_ALLOWED_UIDS,
        max_allowed_validators: int | None = None,
        weights_rate_limit: int | None = None,
        weights_version: int = 0,
        tempo: int = DEFAULT_TEMPO,
    ) -> None:
        with self.lock:
            if netuid in self._subnets:
                raise LocalChainError(f"subnet {netuid} already exists")
            if max_allowed_uids < 1:
                raise ValueError(f"max_allowed_uids must be >= 1, got {max_allowed_uids}")
            self._subnets[netuid] = _Subnet(
                netuid=netuid,
                max_allowed_uids=max_allowed_uids,
                max_allowed_validators=(
                    self._default_max_validators if max_allowed_validators is None else max_allowed_validators
                ),
                weights_rate_limit=self._default_rate_limit if weights_rate_limit is None else weights_rate_limit,
                weights_version=weights_version,
                tempo=tempo,
            )

    def _subnet(self, netuid: int) -> _Subnet:
        try:
            return self._subnets[netuid]
        except KeyError:
            raise LocalChainError(f"subnet {netuid} does not exist") from None

    def subnet_exists(self, netuid: int, block: int | None = None) -> bool:
        with self.lock:
            return netuid in self._subnets

    def get_all_subnets_netuid(self, block: int | None = None) -> list[int]:
        with self.lock:
            return sorted(self._subnets)

    def get_total_subnets(self, block: int | None = None) -> int:
        with self.lock:
            return len(self._subnets)

    def set_weights_rate_limit(self, netuid: int, blocks: int) -> None:
        with self.lock:
            self._subnet(netuid).weights_rate_limit = int(blocks)

    def set_weights_version(self, netuid: int, version_key: int) -> None:
        """Set the subnet's ``weights_version`` hyperparameter (minimum accepted ``version_key``)."""
        with self.lock:
            self._subnet(netuid).weights_version = int(version_key)

    def set_max_allowed_validators(self, netuid: int, k: int) -> None:
        with self.lock:
            subnet = self._subnet(netuid)
            subnet.max_allowed_validators = int(k)
            self._assign_permits(subnet)

    # ---- hyperparameter reads (names as on bt.Subtensor) ---------------------------------------

    def weights_rate_limit(self, netuid: int, block: int | None = None) -> int | None:
        with self.lock:
            subnet = self._subnets.get(netuid)
            return None if subnet is None else subnet.weights_rate_limit

    def tempo(self, netuid: int, block: int | None = None) -> int | None:
        with self.lock:
            subnet = self._subnets.get(netuid)
            return None if subnet is None else subnet.tempo

    def commit_reveal_enabled(self, netuid: int, block: int | None = None) -> bool:
        return False  # weights are set in the clear on the local chain

    def min_allowed_weights(self, netuid: int, block: int | None = None) -> int | None:
        return 1 if self.subnet_exists(netuid) else None

    def max_weight_limit(self, netuid: int, block: int | None = None) -> float | None:
        return 1.0 if self.subnet_exists(netuid) else None

    def get_mechanism_count(self, netuid: int, block: int | None = None) -> int:
        return 1

    def get_mechanism_emission_split(self, netuid: int, block: int | None = None) -> list[int] | None:
        return None

    def get_metagraph_info(self, netuid: int, mechid: int = 0, selected_indices: Any = None,
                           block: int | None = None) -> None:
        return None  # subnet identity, pool and emission details are not emulated

    # ---- registration and stake ----------------------------------------------------------------

    def register_neuron(
        self,
        netuid: int,
        hotkey_ss58: str,
        coldkey_ss58: str,
        stake: float = 0.0,
        validator_permit: bool | None = None,
    ) -> int:
        """Register ``hotkey_ss58`` with ``stake`` TAO; returns its uid.

        ``validator_permit=None`` lets the subnet's top-K-by-stake rule decide (zero stake never
        earns a permit); ``True``/``False`` pins it outside that rule. A full subnet replaces the neuron with the lowest
        stake (lowest uid on ties), so its uid is recycled with a new hotkey.
        """
        if stake < 0:
            raise ValueError(f"stake must be >= 0, got {stake}")
        with self.lock:
            subnet = self._subnet(netuid)
            if subnet.uid_of(hotkey_ss58) is not None:
                raise LocalChainError(f"hotkey {hotkey_ss58} already registered on subnet {netuid}")
            if len(subnet.neurons) < subnet.max_allowed_uids:
                uid = len(subnet.neurons)
            else:
                uid = min(subnet.neurons.values(), key=lambda n: (n.stake_rao, n.uid)).uid
                log.info("subnet %d full: uid %d recycled for %s", netuid, uid, hotkey_ss58)
            subnet.neurons[uid] = _Neuron(
                uid=uid,
                hotkey=hotkey_ss58,
                coldkey=coldkey_ss58,
                stake_rao=Balance.from_tao(float(stake)).rao,
                registered_at=self._block,
                last_update=self._block,
                permit_override=validator_permit,
            )
            self._assign_permits(subnet)
            return uid

    def force_register_neuron(
        self,
        netuid: int,
        hotkey_ss58: str,
        coldkey_ss58: str,
        stake: "Balance | float | int" = 0.0,
        balance: "Balance | float | int" = 0.0,
    ) -> int:
        """``MockSubtensor``'s registration call (``balance`` is accepted and ignored)."""
        tao = stake.tao if isinstance(stake, Balance) else float(stake)
        return self.register_neuron(netuid, hotkey_ss58, coldkey_ss58, stake=tao)

    def set_stake(self, netuid: int, hotkey_ss58: str, stake: float) -> None:
        """Set a registered hotkey's stake (TAO) and re-assign permits."""
        if stake < 0:
            raise ValueError(f"stake must be >= 0, got {stake}")
        with self.lock:
            subnet = self._subnet(netuid)
            self._neuron_by_hotkey(subnet, hotkey_ss58).stake_rao = Balance.from_tao(float(stake)).rao
            self._assign_permits(subnet)

    def set_validator_permit(self, netuid: int, hotkey_ss58: str, permit: bool | None) -> None:
        """Pin a permit (``True``/``False``) or return it to the top-K rule (``None``)."""
        with self.lock:
            subnet = self._subnet(netuid)
            self._neuron_by_hotkey(subnet, hotkey_ss58).permit_override = permit
            self._assign_permits(subnet)

    @staticmethod
    def _neuron_by_hotkey(subnet: _Subnet, hotkey_ss58: str) -> _Neuron:
        uid = subnet.uid_of(hotkey_ss58)
        if uid is None:
            raise LocalChainError(f"hotkey {hotkey_ss58} is not registered on subnet {subnet.netuid}")
        return subnet.neurons[uid]

    @staticmethod
    def _assign_permits(subnet: _Subnet) -> None:
        """Unpinned neurons with stake > 0: the top ``max_allowed_validators`` by stake (ties: lower uid)
        hold a permit. Pinned neurons keep their pin and take no top-K slot."""
        ranked = sorted(
            (n for n in subnet.neurons.values() if n.stake_rao > 0 and n.permit_override is None),
            key=lambda n: (-n.stake_rao, n.uid),
        )
        top = {n.uid for n in ranked[: subnet.max_allowed_validators]}
        for neuron in subnet.neurons.values():
            pinned = neuron.permit_override
            neuron.validator_permit = (neuron.uid in top) if pinned is None else pinned

    # ---- registration reads ------------------------------------------------------------------

    def get_uid_for_hotkey_on_subnet(self, hotkey_ss58: str, netuid: int, block: int | None = None) -> int | None:
        with self.lock:
            subnet = self._subnets.get(netuid)
            return None if subnet is None else subnet.uid_of(hotkey_ss58)

    def is_hotkey_registered_on_subnet(self, hotkey_ss58: str, netuid: int, block: int | None = None) -> bool:
        return self.get_uid_for_hotkey_on_subnet(hotkey_ss58, netuid) is not None

    def is_hotkey_registered_any(self, hotkey_ss58: str, block: int | None = None) -> bool:
        with self.lock:
            return any(s.uid_of(hotkey_ss58) is not None for s in self._subnets.values())

    def is_hotkey_registered(self, hotkey_ss58: str, netuid: int | None = None, block: int | None = None) -> bool:
        if netuid is None:
            return self.is_hotkey_registered_any(hotkey_ss58)
        return self.is_hotkey_registered_on_subnet(hotkey_ss58, netuid)

    def blocks_since_last_update(self, netuid: int, uid: int, block: int | None = None) -> int | None:
        with self.lock:
            subnet = self._subnets.get(netuid)
            if subnet is None or uid not in subnet.neurons:
                return None
            return self._block - subnet.neurons[uid].last_update

    # ---- neurons and metagraph ---------------------------------------------------------------

    def _axon_info(self, neuron: _Neuron) -> AxonInfo:
        if neuron.axon is not None:
            return neuron.axon
        return AxonInfo(version=0, ip="0.0.0.0", port=0, ip_type=0, hotkey=neuron.hotkey, coldkey=neuron.coldkey)

    def _neuron_fields(self, subnet: _Subnet, neuron: _Neuron) -> dict[str, Any]:
        stake = Balance.from_rao(neuron.stake_rao)
        return dict(
            hotkey=neuron.hotkey, coldkey=neuron.coldkey, uid=neuron.uid, netuid=subnet.netuid, active=1,
            stake=stake, stake_dict={neuron.coldkey: stake}, total_stake=stake, emission=0.0, incentive=0.0,
            consensus=0.0, validator_trust=0.0, dividends=0.0, last_update=neuron.last_update,
            validator_permit=neuron.validator_permit, prometheus_info=None, axon_info=self._axon_info(neuron),
        )

    def neurons_lite(self, netuid: int, block: int | None = None) -> list[NeuronInfoLite]:
        with self.lock:
            subnet = self._subnet(netuid)
            return [NeuronInfoLite(**self._neuron_fields(subnet, n)) for _, n in sorted(subnet.neurons.items())]

    def neurons(self, netuid: int, block: int | None = None) -> list[NeuronInfo]:
        with self.lock:
            subnet = self._subnet(netuid)
            return [
                NeuronInfo(**self._neuron_fields(subnet, n), weights=list(n.weights), bonds=[])
                for _, n in sorted(subnet.neurons.items())
            ]

    def neuron_for_uid(self, uid: int, netuid: int, block: int | None = None) -> NeuronInfo:
        with self.lock:
            subnet = self._subnet(netuid)
            if uid not in subnet.neurons:
                return NeuronInfo.get_null_neuron()
            n = subnet.neurons[uid]
            return NeuronInfo(**self._neuron_fields(subnet, n), weights=list(n.weights), bonds=[])

    def get_neuron_for_pubkey_and_subnet(self, hotkey_ss58: str, netuid: int, block: int | None = None) -> NeuronInfo:
        uid = self.get_uid_for_hotkey_on_subnet(hotkey_ss58, netuid)
        return NeuronInfo.get_null_neuron() if uid is None else self.neuron_for_uid(uid, netuid)

    def query_runtime_api(self, runtime_api: str, method: str, params: Any = None, block: int | None = None) -> Any:
        """Only ``SubnetInfoRuntimeApi.get_subnet_state`` (what ``Metagraph.sync`` reads stake from)."""
        if (runtime_api, method) != ("SubnetInfoRuntimeApi", "get_subnet_state"):
            raise NotImplementedError(f"the local chain does not emulate {runtime_api}.{method}")
        netuid = int(params[0])
        with self.lock:
            ns = [n for _, n in sorted(self._subnet(netuid).neurons.items())]
            zeros = [0] * len(ns)
            stakes = [n.stake_rao for n in ns]
            return {
                "netuid": netuid, "hotkeys": [n.hotkey for n in ns], "coldkeys": [n.coldkey for n in ns],
                "active": [True] * len(ns), "validator_permit": [n.validator_permit for n in ns],
                "pruning_score": zeros, "last_update": [n.last_update for n in ns], "emission": zeros,
                "dividends": zeros, "incentives": zeros, "consensus": zeros, "trust": zeros, "rank": zeros,
                "block_at_registration": [n.registered_at for n in ns], "alpha_stake": stakes,
                "tao_stake": zeros, "total_stake": stakes, "emission_history": [],
            }

    def metagraph(self, netuid: int, mechid: int = 0, lite: bool = True, block: int | None = None) -> LocalMetagraph:
        """A ``bt.Metagraph`` synced from this chain; ``metagraph.sync(subtensor=chain)`` refreshes it in place."""
        with self.lock:
            self._subnet(netuid)
            graph = LocalMetagraph(
                netuid=netuid, mechid=mechid, network=self.chain_endpoint, lite=lite, sync=False, subtensor=self
            )
            graph.network = self.network  # bittensor labels an endpoint it does not know "unknown"
            graph.sync(block=block, lite=lite, subtensor=self)
            return graph

    def weights(self, netuid: int, mechid: int = 0, block: int | None = None) -> list[tuple[int, list[tuple[int, int]]]]:
        """Every neuron that has set weights: ``(uid, [(dest_uid, u16_weight), ...])``."""
        with self.lock:
            subnet = self._subnet(netuid)
            return [(uid, list(n.weights)) for uid, n in sorted(subnet.neurons.items()) if n.weights]

    # ---- extrinsics --------------------------------------------------------------------------

    def serve_axon(self, netuid: int, axon: Any, certificate: Any = None, *, mev_protection: bool = False,
                   period: int | None = None, raise_error: bool = False, wait_for_inclusion: bool = True,
                   wait_for_finalization: bool = True, wait_for_revealed_execution: bool = True) -> ExtrinsicResponse:
        """Publish ``axon``'s external ip/port for its wallet's hotkey (as ``serve_axon_extrinsic`` does).

        An axon without ``external_ip`` is published at 127.0.0.1: the local chain never looks the
        address up over the internet.
        """
        ip = axon.external_ip or "127.0.0.1"
        port = axon.external_port or axon.port
        return self.serve_endpoint(netuid, axon.wallet.hotkey.ss58_address, ip=ip, port=int(port),
                                   raise_error=raise_error)

    def serve_endpoint(self, netuid: int, hotkey_ss58: str, *, ip: str, port: int, version: int = version_as_int,
                       protocol: int = 4, raise_error: bool = False) -> ExtrinsicResponse:
        """Publish an endpoint for a registered hotkey without building a ``bt.Axon``."""
        with self.lock:
            subnet = self._subnets.get(netuid)
            uid = None if subnet is None else subnet.uid_of(hotkey_ss58)
            if uid is None:
                return self._refuse("serve_axon_extrinsic",
                                    f"HotKeyNotRegisteredInNetwork: {hotkey_ss58} on subnet {netuid}", raise_error)
            if not 0 < port < 65536:
                return self._refuse("serve_axon_extrinsic", f"InvalidPort: {port}", raise_error)
            neuron = subnet.neurons[uid]
            neuron.axon = AxonInfo(version=version, ip=ip, port=port, ip_type=6 if ":" in ip else 4,
                                   hotkey=neuron.hotkey, coldkey=neuron.coldkey, protocol=protocol)
            return ExtrinsicResponse(True, "Axon served.", extrinsic_function="serve_axon_extrinsic")

    def set_weights(
        self,
        wallet: Any,
        netuid: int,
        uids: Sequence[int] | np.ndarray,
        weights: Sequence[float] | np.ndarray,
        mechid: int = 0,
        block_time: float = 12.0,
        commit_reveal_version: int = 4,
        max_attempts: int = 5,
        version_key: int = version_as_int,
        *,
        mev_protection: bool = False,
        period: int | None = None,
        raise_error: bool = False,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
        wait_for_revealed_execution: bool = True,
    ) -> ExtrinsicResponse:
        """Set the caller's weights; refusals carry the chain's error name in ``message``.

        ``weights`` are floats (any scale); like bittensor they are max-upscaled to u16 (the largest
        becomes 65535) and zeros are dropped. The rate limit is bittensor's client rule: a neuron may set
        weights when ``blocks_since_last_update > weights_rate_limit`` (registration counts as an update).
        """
        name = "set_weights_extrinsic"
        hotkey = wallet.hotkey.ss58_address
        uid_arr = np.asarray(uids, dtype=np.int64).reshape(-1)
        w_arr = np.asarray(weights, dtype=np.float64).reshape(-1)
        with self.lock:
            subnet = self._subnets.get(netuid)
            if subnet is None:
                return self._refuse(name, f"SubnetNotExists: {netuid}", raise_error)
            uid = subnet.uid_of(hotkey)
            if uid is None:
                return self._refuse(name, f"HotKeyNotRegisteredInSubNet: {hotkey} on subnet {netuid}", raise_error)
            neuron = subnet.neurons[uid]
            if len(uid_arr) != len(w_arr):
                return self._refuse(name, f"WeightVecNotEqualSize: {len(uid_arr)} uids, {len(w_arr)} weights",
                                    raise_error)
            if len(set(uid_arr.tolist())) != len(uid_arr):
                return self._refuse(name, "DuplicateUids", raise_error)
            if any(u not in subnet.neurons for u in uid_arr.tolist()):
                return self._refuse(name, "UidVecContainInvalidOne: a destination uid is not registered",
                                    raise_error)
            if not np.all(np.isfinite(w_arr)) or np.any(w_arr < 0):
                return self._refuse(name, "InvalidWeights: weights must be finite and >= 0", raise_error)
            if not neuron.validator_permit:
                return self._refuse(name, f"NeuronNoValidatorPermit: uid {uid}", raise_error)
            if version_key < subnet.weights_version:
                return self._refuse(
                    name, f"IncorrectWeightVersionKey: {version_key} < weights_version {subnet.weights_version}",
                    raise_error)
            since = self._block - neuron.last_update
            if since <= subnet.weights_rate_limit:
                return self._refuse(
                    name, f"SettingWeightsTooFast: {since} blocks since last update, limit "
                          f"{subnet.weights_rate_limit}", raise_error)
            dest, vals = convert_weights_and_uids_for_emit(uid_arr, w_arr) if len(uid_arr) else ([], [])
            if not dest:
                return self._refuse(name, "WeightVecLengthIsLow: no positive weight", raise_error)
            neuron.weights = [(int(d), int(v)) for d, v in zip(dest, vals, strict=True)]
            neuron.last_update = self._block
            log.debug("uid %d set %d weights on subnet %d at block %d", uid, len(dest), netuid, self._block)
            return ExtrinsicResponse(True, "Successfully set weights.", extrinsic_function=name,
                                     data={"block": self._block, "uids": list(dest), "weights": list(vals)})

    @staticmethod
    def _refuse(function: str, message: str, raise_error: bool) -> ExtrinsicResponse:
        log.debug("local chain refused %s: %s", function, message)
        if raise_error:
            raise LocalChainError(message)
        return ExtrinsicResponse(False, message, extrinsic_function=function)


_SINGLETON: LocalChain | None = None
_SINGLETON_LOCK = threading.Lock()


def get_local_chain(**kwargs: Any) -> LocalChain:
    """The process-wide ``LocalChain``; ``kwargs`` configure it on first creation only."""
    global _SINGLETON
    with _SINGLETON_LOCK:
        if _SINGLETON is None:
            _SINGLETON = LocalChain(**kwargs)
        elif kwargs:
            log.debug("local chain already exists; ignoring %s", sorted(kwargs))
        return _SINGLETON


def reset_local_chain() -> None:
    """Stop and forget the process-wide chain (tests, or a fresh local network)."""
    global _SINGLETON
    with _SINGLETON_LOCK:
        if _SINGLETON is not None:
            _SINGLETON.close()
        _SINGLETON = None
