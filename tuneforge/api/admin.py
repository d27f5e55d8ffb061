"""Account administration shared by the admin CLI and the local network's demo set-up."""

from typing import Any

__all__ = ["create_demo_account"]


def create_demo_account(store: Any, *, credits: int = 1000, plan: str = "premier",
                        name: str = "demo") -> tuple[str, str]:
    """Create an account with ``credits`` on ``plan`` and one API key; returns ``(account_id, api_key)``."""
    account = store.create_account(name=name, plan=plan, credits=credits)
    _, key = store.create_api_key(account["id"])
    return account["id"], key
