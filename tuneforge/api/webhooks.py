"""Webhook delivery: POST a finished generation's status to the caller's URL, signed, with retries.

Each delivery is a row in the store; each POST is logged as an attempt. The body is the exact
status object of ``GET /api/v1/music/status/{id}``. Headers: ``X-TuneForge-Timestamp`` (Unix
seconds), ``X-TuneForge-Signature: sha256=<hex>`` — HMAC-SHA256 with the account's webhook
secret over ``"{timestamp}." + raw body`` — and ``X-TuneForge-Event`` (``generation.completed``
or ``generation.failed``). A 2xx answer is delivered; anything else is retried after
``backoff × 2^(attempt-1)`` seconds, up to ``webhook_max_attempts`` POSTs. Only public
addresses are reached unless ``--api.webhook_allow_private`` (see :mod:`tuneforge.api.webhook_target`);
a refused target fails at once, without retries.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any

import aiohttp

from tuneforge.api.context import ApiContext
from tuneforge.api.webhook_target import webhook_connector, webhook_url_problem
from tuneforge.validator.loops import MORE, Loop

__all__ = ["WebhookDispatcher", "sign_webhook", "verify_webhook"]

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
#: A Unix timestamp in ASCII digits (``str.isdigit`` also accepts "²" and other digits ``int`` refuses).
_TIMESTAMP = re.compile(r"[0-9]{1,20}")


def sign_webhook(secret: str, *, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"{timestamp}." + body`` with ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_webhook(secret: str, *, timestamp: str, body: bytes, signature: str, tolerance_s: float = 300.0,
                   now: float | None = None) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent."""
    if not _TIMESTAMP.fullmatch(timestamp) or abs((now or time.time()) - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign_webhook(secret, timestamp=int(timestamp), body=body), signature)


class WebhookDispatcher:
    """Delivers due webhooks from the store until stopped."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.delivered = 0
        self.failed = 0
        self.loop: Loop | None = None

    async def run(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; when idle, waits for ``wake`` or a short poll."""
        timeout = aiohttp.ClientTimeout(total=self.ctx.settings.webhook_timeout_s)
        connector = webhook_connector(allow_private=self.ctx.settings.webhook_allow_private)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            async def step() -> str | None:  # deliveries attempted: more may be due right away
                return MORE if await self.deliver_due(session) else None

            self.loop = Loop("webhooks", step, interval_s=self._idle_seconds(),
                             deadline_s=2 * self.ctx.settings.webhook_timeout_s + 30.0)
            await self.loop.run_forever(stop, wake=wake)

    def _idle_seconds(self) -> float:
        return min(POLL_SECONDS, max(0.01, self.ctx.settings.webhook_backoff_s / 2))

    async def deliver_due(self, session: aiohttp.ClientSession) -> int:
        """POST every due delivery once; returns how many were attempted."""
        # claimed: hidden from other replicas' dispatchers until this attempt is recorded (or its lease ends)
        due = await asyncio.to_thread(self.ctx.store.claim_due_webhooks,
                                      lease_s=self.ctx.settings.webhook_timeout_s + 30.0)
        if due:
            await asyncio.gather(*(self.deliver(session, d) for d in due))
        return len(due)

    async def deliver(self, session: aiohttp.ClientSession, delivery: dict[str, Any]) -> bool:
        store, settings = self.ctx.store, self.ctx.settings
        account = await asyncio.to_thread(store.get_account, delivery["account_id"])
        body = delivery["payload"].encode()
        timestamp = int(time.time())
        status = json.loads(delivery["payload"]).get("status")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "TuneForge-Webhooks/1",
            "X-TuneForge-Event": f"generation.{status}",
            "X-TuneForge-Delivery": str(delivery["id"]),
            "X-TuneForge-Timestamp": str(timestamp),
            "X-TuneForge-Signature": sign_webhook(account["webhook_secret"], timestamp=timestamp, body=body),
        }
        refused = webhook_url_problem(delivery["url"], allow_private=settings.webhook_allow_private)
        if refused:
            code, error = None, f"refused: webhook_url {refused}"
        else:
            code, error = await self._post(session, delivery["url"], body, headers)
        ok = error is None
        attempt = int(delivery["attempts"]) + 1
        retry_at = None
        if not ok and not refused and attempt < settings.webhook_max_attempts:
            retry_at = time.time() + settings.webhook_backoff_s * 2 ** (attempt - 1)
        await asyncio.to_thread(store.record_webhook_attempt, delivery["id"], status_code=code, error=error,
                                delivered=ok, next_attempt_at=retry_at)
        if ok:
            self.delivered += 1
        elif retry_at is None:
            self.failed += 1
            log.warning("webhook %s for %s failed after %d attempts: %s", delivery["id"], delivery["job_id"],
                        attempt, error)
        else:
            log.info("webhook %s attempt %d failed (%s); retrying in %.1f s", delivery["id"], attempt, error,
                     retry_at - time.time())
        return ok

    @staticmethod
    async def _post(session: aiohttp.ClientSession, url: str, body: bytes,
                    headers: dict[str, str]) -> tuple[int | None, str | None]:
        """One POST: ``(HTTP status or None, error or None)``; only a 2xx answer has no error."""
        try:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
                if not 200 <= resp.status < 300:
                    return resp.status, f"HTTP {resp.status}"
                return resp.status, None
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
