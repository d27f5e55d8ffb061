"""`tuneforge api ...` admin CLI: accounts, keys (shown once, revocable), credits; bad input exits 1.

The CLI opens its default SQLite file under ``--state-dir``, or with ``TF_TEST_POSTGRES_URL`` set a
scratch PostgreSQL schema given as ``--api.database_url``."""

import json
from pathlib import Path

import pytest

from tuneforge.cli import main
from tuneforge.store import Store
from tuneforge.store.testing import database_url_for, postgres_test_url


def _run(capsys: pytest.CaptureFixture, state: Path, *argv: str) -> tuple[int, str, str]:
    database = ["--api.database_url", database_url_for(state / "tuneforge.db")] if postgres_test_url() else []
    rc = main(["api", *argv[:2], *argv[2:], "--state-dir", str(state), *database])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_admin_cli_manages_accounts_keys_and_credits(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc, out, _ = _run(capsys, tmp_path, "account", "create", "--name", "Acme", "--plan", "pro", "--credits", "50",
                      "--json")
    assert rc == 0
    account = json.loads(out)
    assert account["plan"] == "pro" and account["credits"] == 50 and account["webhook_secret"].startswith("whsec_")
    rc, out, _ = _run(capsys, tmp_path, "key", "create", "--account", account["id"], "--json")
    created = json.loads(out)
    assert rc == 0 and created["api_key"].startswith("tf_")
    rc, out, _ = _run(capsys, tmp_path, "key", "list", "--account", account["id"])
    assert rc == 0 and created["key_id"] in out and "active" in out and created["api_key"] not in out
    rc, out, _ = _run(capsys, tmp_path, "credits", "add", "--account", account["id"], "--amount", "25")
    assert rc == 0 and out.strip() == f"{account['id']}: 75 credits"
    rc, out, _ = _run(capsys, tmp_path, "key", "revoke", created["key_id"])
    assert rc == 0 and "revoked" in out
    store = Store(database_url_for(tmp_path / "tuneforge.db"), tmp_path / "audio")
    assert store.authenticate_key(created["api_key"]) == (None, "This API key has been revoked.")
    assert store.ledger_balance(account["id"]) == 75


@pytest.mark.parametrize("argv", [
    ("account", "create", "--name", "x", "--plan", "gold"),
    ("key", "create", "--account", "acc_missing"),
    ("key", "revoke", "key_missing"),
    ("credits", "add", "--account", "acc_missing", "--amount", "5"),
    ("credits", "add", "--account", "acc_missing", "--amount", "-5"),
])
def test_admin_cli_bad_input_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture, argv: tuple[str, ...]) -> None:
    rc, out, err = _run(capsys, tmp_path, *argv)
    assert rc == 1 and out == "" and err.startswith("error: ") and err.count("\n") == 1
