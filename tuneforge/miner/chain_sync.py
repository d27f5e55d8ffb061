"""The miner's view of the chain, refreshed in the background.

:class:`ChainSync` re-reads the metagraph every ``--neuron.resync_interval`` seconds on its own
thread (never inside a request), publishes an immutable :class:`CallerRegistry` for the
blacklist, and finds the miner's uid. :class:`AxonPublisher` keeps the chain's record of the
miner's axon equal to where it really serves: when the detected external IP changes, or the
record on chain differs from the axon's address, it calls ``subtensor.serve_axon`` again.
Both talk to anything with the bittensor 10.5 ``Subtensor`` interface (``metagraph``,
``get_current_block``, ``serve_axon``), including the local chain.
"""

import logging
import threading
from collections.abc import Callable
from typing import Any

from tuneforge.miner.blacklist import CallerRegistry

__all__ = ["ChainSync", "AxonPublisher", "extrinsic_outcome"]

logger = logging.getLogger(__name__)

#: Seconds before retrying after a failed sync (capped by the resync interval).
RETRY_AFTER_FAILURE_S = 10.0


def extrinsic_outcome(response: Any) -> tuple[bool, str]:
    """(success, message) from a bittensor 10.5 ``ExtrinsicResponse``, a ``(bool, str)`` pair or a bool."""
    if isinstance(response, bool):
        return response, ""
    success = getattr(response, "success", None)
    if success is not None:
        return bool(success), str(getattr(response, "message", "") or "")
    if isinstance(response, tuple) and len(response) == 2:
        return bool(response[0]), str(response[1])
    return bool(response), ""


class AxonPublisher:
    """Keeps the on-chain axon record (ip, port) equal to the axon's external address.

    ``detect_ip`` returns the machine's current external IP; pass None when the IP was given
    on the command line (``--axon.external_ip``) and must not change.
    """

    def __init__(
        self,
        *,
        subtensor: Any,
        netuid: int,
        axon: Any,
        detect_ip: Callable[[], str] | None = None,
    ) -> None:
        self.subtensor = subtensor
        self.netuid = int(netuid)
        self.axon = axon
        self.detect_ip = detect_ip
        self.serve_count = 0

    def serve(self) -> bool:
        """Announce the axon's external ip:port on chain; logs and returns whether it worked."""
        ip, port = self.axon.external_ip, int(self.axon.external_port)
        try:
            ok, message = extrinsic_outcome(self.subtensor.serve_axon(netuid=self.netuid, axon=self.axon))
        except Exception as exc:  # a chain error must not kill the miner; retried at the next sync
            logger.error("serve_axon %s:%d on netuid %d raised: %s", ip, port, self.netuid, exc)
            return False
        if ok:
            self.serve_count += 1
            logger.info("axon served on chain as %s:%d (netuid %d)", ip, port, self.netuid)
        else:
            logger.error("serve_axon %s:%d on netuid %d failed: %s", ip, port, self.netuid, message or "no message")
        return ok

    def reconcile(self, metagraph: Any, uid: int) -> bool:
        """Re-detect the external IP (when not pinned) and re-serve if the chain's record differs.

        Returns True when a serve was attempted.
        """
        if self.detect_ip is not None:
            try:
                ip = self.detect_ip()
            except Exception as exc:  # keep the last known address; try again next sync
                logger.warning("external IP lookup failed, keeping %s: %s", self.axon.external_ip, exc)
            else:
                if ip != self.axon.external_ip:
                    logger.info("external IP changed %s -> %s", self.axon.external_ip, ip)
                    self.axon.external_ip = ip
        record = metagraph.axons[uid]
        on_chain = (str(getattr(record, "ip", "")), int(getattr(record, "port", 0) or 0))
        wanted = (str(self.axon.external_ip), int(self.axon.external_port))
        if on_chain == wanted:
            return False
        logger.info("chain lists our axon at %s:%d, serving at %s:%d: re-serving", *on_chain, *wanted)
        self.serve()
        return True


class ChainSync:
    """Background metagraph re-sync: caller registry for the blacklist, our uid, axon record."""

    def __init__(
        self,
        *,
        subtensor: Any,
        netuid: int,
        hotkey: str,
        interval_s: float,
        on_step: Callable[["ChainSync"], None] | None = None,
    ) -> None:
        self.subtensor = subtensor
        self.netuid = int(netuid)
        self.hotkey = hotkey
        self.interval_s = float(interval_s)
        self.on_step = on_step
        self.publisher: AxonPublisher | None = None
        self._registry = CallerRegistry()
        self.uid: int | None = None
        self.metagraph: Any = None
        self.block: int | None = None
        self.syncs = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def registry(self) -> CallerRegistry:
        """The latest caller snapshot (replaced whole, so readers never see a half-built one)."""
        return self._registry

    def run_step(self) -> CallerRegistry:
        """Read the metagraph once; publish the registry; reconcile the axon record. Raises on chain errors."""
        metagraph = self.subtensor.metagraph(self.netuid)
        block = int(self.subtensor.get_current_block())
        registry = CallerRegistry.from_metagraph(metagraph, block=block)
        record = registry.get(self.hotkey)
        self._registry, self.block, self.metagraph = registry, block, metagraph
        self.syncs += 1
        if record is None:
            if self.uid is not None:
                logger.error("hotkey %s is no longer registered on netuid %d (was uid %d)", self.hotkey, self.netuid, self.uid)
            self.uid = None
        else:
            self.uid = record.uid
            if self.publisher is not None:
                self.publisher.reconcile(metagraph, record.uid)
        logger.debug("metagraph synced at block %d: %d neurons, our uid %s", block, len(registry), self.uid)
        if self.on_step is not None:
            self.on_step(self)
        return registry

    def _loop(self) -> None:
        wait_s = self.interval_s
        while not self._stop.wait(wait_s):
            try:
                self.run_step()
            except Exception as exc:  # the old snapshot stays in force; counted, logged, retried
                self.consecutive_failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                wait_s = min(self.interval_s, RETRY_AFTER_FAILURE_S)
                logger.error(
                    "metagraph sync failed (%d in a row), keeping block %s snapshot: %s",
                    self.consecutive_failures,
                    self.block,
                    self.last_error,
                )
            else:
                self.consecutive_failures = 0
                self.last_error = None
                wait_s = self.interval_s

    def start(self) -> None:
        """Start the background loop (the first sync is the caller's job: call :meth:`run_step`)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="metagraph-sync", daemon=True)
        self._thread.start()

    def stop(self, *, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
