"""``tuneforge scores best|export``: read a validator's scores API, signed with a wallet's hotkey.

    tuneforge scores best --wallet.name W --wallet.hotkey H --url http://validator:8000 --limit 10
    tuneforge scores export --wallet.name W --wallet.hotkey H --url URL --since 1710000000 --json
"""

import argparse
import asyncio
import json
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("scores", help="Query a validator's scores API (hotkey-signed).")
    actions = parser.add_subparsers(dest="scores_action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--wallet.name", dest="wallet_name", required=True)
    common.add_argument("--wallet.hotkey", dest="wallet_hotkey", default="default")
    common.add_argument("--wallet.path", dest="wallet_path", default="~/.bittensor/wallets/")
    common.add_argument("--url", required=True, help="The validator API's base URL, e.g. http://1.2.3.4:8000")
    common.add_argument("--json", action="store_true", help="Print JSON (one object; export: one entry per line).")
    best = actions.add_parser("best", parents=[common], help="Highest-scoring clips.")
    best.add_argument("--limit", type=int, default=20)
    best.add_argument("--since", type=float, default=None, help="Unix seconds.")
    best.add_argument("--genre", default=None)
    export = actions.add_parser("export", parents=[common], help="Every scored clip, all pages.")
    export.add_argument("--since", type=float, default=None)
    export.add_argument("--until", type=float, default=None)
    export.add_argument("--min-score", type=float, default=None)
    export.add_argument("--limit", type=int, default=100, help="Entries per page.")
    export.add_argument("--max", type=int, default=0, help="Stop after this many entries (0: all).")
    parser.set_defaults(func=run)


def _line(entry: dict[str, Any]) -> str:
    return (f"{entry['final_score']:.3f}  uid {entry['miner_uid']:<4} {entry['track_id']}  "
            f"{entry['duration_seconds']:.1f}s  {entry['genre'] or '-'}  {entry['prompt'][:60]}")


async def _run(args: argparse.Namespace) -> int:
    from bittensor_wallet import Wallet

    from tuneforge.client import ScoresClient

    wallet = Wallet(name=args.wallet_name, hotkey=args.wallet_hotkey, path=args.wallet_path)
    async with ScoresClient(args.url, wallet.hotkey) as client:
        if args.scores_action == "best":
            tracks = await client.best(limit=args.limit, since=args.since, genre=args.genre)
            sys.stdout.write((json.dumps({"tracks": tracks}, indent=2) if args.json
                              else "\n".join(_line(t) for t in tracks) or "no scored clips") + "\n")
            return 0
        count = 0
        async for entry in client.export(since=args.since, until=args.until, min_score=args.min_score,
                                         limit=args.limit):
            sys.stdout.write((json.dumps(entry) if args.json else _line(entry)) + "\n")
            count += 1
            if args.max and count >= args.max:
                break
        if not args.json:
            sys.stdout.write(f"{count} entries\n")
    return 0


def run(args: argparse.Namespace) -> int:
    from tuneforge.client import ScoresApiError

    try:
        return asyncio.run(_run(args))
    except ScoresApiError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
