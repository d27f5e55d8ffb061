"""``tuneforge localnet``: run a whole TuneForge subnet on this machine and print its leaderboard."""

import argparse
import logging
import sys
from pathlib import Path

from tuneforge.localnet.hostile_kinds import HOSTILE_KINDS, parse_hostile_kinds

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "localnet",
        help="Run a local subnet: chain, miners on 127.0.0.1, a validator; print the leaderboard.",
        description="Bring up a local chain, N miners on real axons bound to 127.0.0.1 (some deliberately "
        "poor), one validator with a real dendrite; run R rounds, set weights on chain, print the leaderboard.",
    )
    p.add_argument("--miners", type=int, default=4, help="Number of miners (default 4).")
    p.add_argument("--rounds", type=int, default=3, help="Rounds to run; 0 just brings the subnet up (default 3).")
    p.add_argument("--out", type=Path, default=None, help="Directory for wallets, localnet.json, leaderboard.json, rounds/ (default: a new temp dir).")
    p.add_argument("--serve", action="store_true", help="Keep miners, validator and API running after the rounds until SIGINT/SIGTERM.")
    p.add_argument("--bad-miners", "--localnet.bad-miners", dest="bad_miners", type=int, default=1,
                   help="How many miners are deliberately poor (noise, then truncated clips) (default 1).")
    p.add_argument("--netuid", type=int, default=1, help="Subnet id on the local chain (default 1).")
    p.add_argument("--sample-size", type=int, default=None, help="Miners queried per round (default: all).")
    p.add_argument("--timeout", type=float, default=30.0, help="Validator timeout for a 10 s clip, seconds (default 30).")
    p.add_argument("--api-port", type=int, default=None, help="API port with --serve (default: a free port).")
    p.add_argument("--round-interval", type=float, default=300.0,
                   help="With --serve, seconds between further rounds and weight updates (default 300).")
    p.add_argument("--block-time", dest="block_time", type=float, default=12.0,
                   help="With --serve, seconds between two blocks of the local chain (default 12, as on finney).")
    p.add_argument("--hostile", default=None, metavar="KIND[,KIND...]",
                   help="Add one hostile miner per kind (or 'all'): " + ", ".join(HOSTILE_KINDS) + ".")
    p.add_argument("--seed", type=int, default=None,
                   help="Derive wallets and the validator's challenge secret from this number, so runs with the "
                   "same seed have the same hotkeys, challenges and seeds (comparable miner by miner).")
    p.add_argument("--clip-seconds", default=None, metavar="LOW[-HIGH]",
                   help="Challenge durations in whole seconds (default 5-30), e.g. 5 for short CPU rounds.")
    p.set_defaults(func=run)


def _clip_seconds(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise ValueError(f"--clip-seconds must be LOW or LOW-HIGH whole seconds, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from tuneforge.localnet.network import LocalnetOptions, LocalnetStartError, LocalNetwork

    try:
        options = LocalnetOptions(
            miners=args.miners, rounds=args.rounds, out=args.out, serve=args.serve, bad_miners=args.bad_miners,
            netuid=args.netuid, sample_size=args.sample_size, timeout_s=args.timeout, api_port=args.api_port,
            round_interval_s=args.round_interval, hostile=parse_hostile_kinds(args.hostile), seed=args.seed,
            clip_seconds=_clip_seconds(args.clip_seconds), block_seconds=args.block_time,
        )
        options.validate()
    except ValueError as exc:
        sys.stderr.write(f"tuneforge localnet: {exc}\n")
        return 2
    try:
        with LocalNetwork(options) as net:
            rows = net.run()
            sys.stdout.write(net.print_summary(rows) + "\n")
            sys.stdout.flush()
            if options.serve:
                net.serve()
    except (LocalnetStartError, _api_start_error()) as exc:
        # An API port free at the check but taken since: the service names the validator's flag.
        sys.stderr.write(f"tuneforge localnet: {str(exc).replace('--api.port', '--api-port')}\n")
        return 1
    return 0


def _api_start_error() -> type[Exception]:
    """The API's start-up error class; without the (optional) API package, LocalnetStartError again."""
    from tuneforge.localnet.network import LocalnetStartError

    try:
        from tuneforge.api.service import ApiStartError
    except ImportError:
        return LocalnetStartError
    return ApiStartError
