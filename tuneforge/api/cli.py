"""``tuneforge api ...``: administer API accounts, keys and credits in the validator's database.

    tuneforge api account create --name N --plan free|pro|premier --credits C
    tuneforge api account list
    tuneforge api key create --account ID        # prints the key once
    tuneforge api key list [--account ID]
    tuneforge api key revoke KEY_ID
    tuneforge api credits add --account ID --amount N
    tuneforge api serve [--api.host H --api.port P --api.redis_url URL]   # one API replica (tuneforge.api.serve)

Every command opens ``--api.database_url`` / ``--api.audio_dir``, or the defaults under
``--state-dir`` (the validator's ``--neuron.state_dir``). Output goes to stdout; errors are one
line on stderr with exit status 1.
"""

import argparse
import json
import logging
import sys
from typing import Any

__all__ = ["register", "run"]

log = logging.getLogger(__name__)


def _common() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--state-dir", default=None, help="Validator state directory (default ~/.tuneforge/validator).")
    parent.add_argument("--api.database_url", dest="api.database_url", default=None,
                        help="SQLAlchemy URL (default sqlite:///<state-dir>/tuneforge.db).")
    parent.add_argument("--api.audio_dir", dest="api.audio_dir", default=None, help="Audio directory.")
    parent.add_argument("--api.secret_key_file", dest="api.secret_key_file", default=None,
                        help="Key file the webhook secrets are sealed with (default <state-dir>/api_secrets.key).")
    parent.add_argument("--json", action="store_true", help="Print JSON.")
    return parent


def register(subparsers: Any) -> None:
    common = _common()
    api = subparsers.add_parser("api", help="Administer the HTTP API (accounts, keys, credits) or serve it.")
    groups = api.add_subparsers(dest="api_group", required=True, metavar="GROUP")

    account = groups.add_parser("account", help="Accounts.").add_subparsers(dest="api_action", required=True)
    create = account.add_parser("create", parents=[common], help="Create an account.")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", default="free", help="free | pro | premier (default free).")
    create.add_argument("--credits", type=int, default=0)
    create.add_argument("--rate-limit", type=int, default=None, help="Requests per minute overriding the plan's.")
    account.add_parser("list", parents=[common], help="List accounts.")

    key = groups.add_parser("key", help="API keys.").add_subparsers(dest="api_action", required=True)
    key_create = key.add_parser("create", parents=[common], help="Create a key (printed once).")
    key_create.add_argument("--account", required=True)
    key_list = key.add_parser("list", parents=[common], help="List keys (never the keys themselves).")
    key_list.add_argument("--account", default=None)
    revoke = key.add_parser("revoke", parents=[common], help="Revoke a key.")
    revoke.add_argument("key_id")

    credits = groups.add_parser("credits", help="Credits.").add_subparsers(dest="api_action", required=True)
    add = credits.add_parser("add", parents=[common], help="Grant credits.")
    add.add_argument("--account", required=True)
    add.add_argument("--amount", type=int, required=True)
    from tuneforge.api.serve import add_serve_parser

    add_serve_parser(groups, common)
    api.set_defaults(func=run)


def _open_store(args: argparse.Namespace) -> Any:
    from tuneforge.api.settings import ApiSettings
    from tuneforge.store import Store

    settings = ApiSettings.from_args(vars(args), state_dir=args.state_dir)
    return Store(settings.database_url, settings.audio_dir, secret_key_file=settings.secret_key_file)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    sys.stdout.write((json.dumps(data, indent=2, default=str) if args.json else text) + "\n")


def run(args: argparse.Namespace) -> int:
    from tuneforge.store import NotFound, StoreError

    if args.api_group == "serve":
        from tuneforge.api.serve import run_serve

        return run_serve(args)
    try:
        store = _open_store(args)
        action = f"{args.api_group} {args.api_action}"
        if action == "account create":
            acc = store.create_account(name=args.name, plan=args.plan, credits=args.credits,
                                       rate_limit_per_minute=args.rate_limit)
            _emit(args, acc, f"account {acc['id']} ({acc['name']}, plan {acc['plan']}, {acc['credits']} credits)\n"
                             f"webhook secret: {acc['webhook_secret']}")
        elif action == "account list":
            rows = store.list_accounts()
            _emit(args, rows, "\n".join(f"{a['id']}  {a['plan']:<8} {a['credits']:>8} credits  {a['name']}"
                                        for a in rows) or "no accounts")
        elif action == "key create":
            key_id, key = store.create_api_key(args.account)
            _emit(args, {"key_id": key_id, "api_key": key, "account_id": args.account},
                  f"key {key_id} for {args.account}:\n{key}\n(shown once; store it now)")
        elif action == "key list":
            rows = store.list_api_keys(args.account)
            _emit(args, rows, "\n".join(
                f"{k['id']}  {k['account_id']}  {k['prefix']}...  {'revoked' if k['revoked_at'] else 'active'}"
                for k in rows) or "no keys")
        elif action == "key revoke":
            row = store.revoke_api_key(args.key_id)
            _emit(args, row, f"key {row['id']} revoked")
        elif action == "credits add":
            balance = store.add_credits(args.account, args.amount)
            _emit(args, {"account_id": args.account, "credits": balance}, f"{args.account}: {balance} credits")
        else:
            raise ValueError(f"unknown command: {action}")
    except (NotFound, StoreError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0
