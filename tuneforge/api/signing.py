"""Hotkey-signed HTTP requests (PROTOCOL.md, "Hotkey-signed HTTP"): the message, signing, checking.

The signed message is ``"{nonce}.{hotkey}.{METHOD}.{path}.{body_hash}"``: ``nonce`` the time in
nanoseconds, ``path`` the URL path without the query string, ``body_hash`` the SHA-256 hex of
the body or ``empty`` when there is none. :func:`sign_request` makes the three headers;
:func:`verify_signed_request` checks them in a fixed order and raises :class:`SignatureRejected`
with a specific message for the first failure. Replays are caught by the caller's nonce store.
"""

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HOTKEY_HEADER", "NONCE_HEADER", "SIGNATURE_HEADER", "WINDOW_SECONDS", "SignatureRejected", "SignedCaller",
    "body_hash", "signed_message", "sign_request", "verify_signature", "verify_signed_request",
]

HOTKEY_HEADER = "X-Validator-Hotkey"
NONCE_HEADER = "X-Validator-Nonce"
SIGNATURE_HEADER = "X-Validator-Signature"
WINDOW_SECONDS = 300.0
#: Nonces below this are not nanoseconds (1e15 ns is 11.6 days after the Unix epoch).
_MIN_PLAUSIBLE_NS = 10**15
#: A nonce: ASCII digits only (``str.isdigit`` accepts "²", which ``int`` refuses) and at most 20 of
#: them (nanoseconds need 19 until the year 2286), so nothing longer reaches ``int`` or the database.
_NONCE = re.compile(r"[0-9]{1,20}")


class SignatureRejected(ValueError):
    """A signed request that fails verification; the message says which check failed."""


@dataclass(frozen=True)
class SignedCaller:
    hotkey: str
    nonce: int


def body_hash(body: bytes | None) -> str:
    """SHA-256 hex of ``body``, or ``"empty"`` for no body."""
    return hashlib.sha256(body).hexdigest() if body else "empty"


def signed_message(*, nonce: int, hotkey: str, method: str, path: str, body: bytes | None) -> str:
    return f"{nonce}.{hotkey}.{method.upper()}.{path}.{body_hash(body)}"


def sign_request(keypair: Any, *, method: str, path: str, body: bytes | None = None,
                 nonce: int | None = None) -> dict[str, str]:
    """The three headers for a request signed by ``keypair`` (a ``bittensor_wallet.Keypair``)."""
    nonce = time.time_ns() if nonce is None else int(nonce)
    message = signed_message(nonce=nonce, hotkey=keypair.ss58_address, method=method, path=path, body=body)
    return {
        HOTKEY_HEADER: keypair.ss58_address,
        NONCE_HEADER: str(nonce),
        SIGNATURE_HEADER: "0x" + keypair.sign(message.encode()).hex(),
    }


def verify_signature(hotkey: str, message: str, signature_hex: str) -> bool:
    """Whether ``signature_hex`` (with or without ``0x``) is ``hotkey``'s sr25519 signature of ``message``."""
    from bittensor_wallet import Keypair

    text = signature_hex[2:] if signature_hex[:2].lower() == "0x" else signature_hex
    try:
        signature = bytes.fromhex(text)
    except ValueError:
        return False
    if len(signature) != 64:
        return False
    try:
        return bool(Keypair(ss58_address=hotkey).verify(message.encode(), signature))
    except (ValueError, TypeError):
        return False


def verify_signed_request(
    headers: Mapping[str, str], *, method: str, path: str, body: bytes | None,
    is_registered: Callable[[str], bool], now_ns: int | None = None, window_s: float = WINDOW_SECONDS,
) -> SignedCaller:
    """Check headers, nonce window, registration and signature (in that order).

    Raises:
        SignatureRejected: with the reason for the first check that fails.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in (HOTKEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER) if not lower.get(h.lower())]
    if missing:
        raise SignatureRejected(f"Missing header(s): {', '.join(missing)}.")
    hotkey = lower[HOTKEY_HEADER.lower()].strip()
    nonce_text = lower[NONCE_HEADER.lower()].strip()
    signature = lower[SIGNATURE_HEADER.lower()].strip()
    if not _NONCE.fullmatch(nonce_text):
        raise SignatureRejected(f"{NONCE_HEADER} must be an integer of 1-20 ASCII digits (Unix time in nanoseconds).")
    nonce = int(nonce_text)
    if nonce < _MIN_PLAUSIBLE_NS:
        raise SignatureRejected(
            f"{NONCE_HEADER} must be Unix time in nanoseconds (this value looks like seconds or milliseconds).")
    now_ns = time.time_ns() if now_ns is None else now_ns
    skew_s = (nonce - now_ns) / 1e9
    if skew_s < -window_s:
        raise SignatureRejected(f"Stale nonce: {-skew_s:.0f} s old; it must be within {window_s:.0f} s of server time.")
    if skew_s > window_s:
        raise SignatureRejected(f"Nonce is {skew_s:.0f} s in the future; it must be within {window_s:.0f} s of server time.")
    if not is_registered(hotkey):
        raise SignatureRejected(f"Hotkey {hotkey} is not registered on the subnet.")
    message = signed_message(nonce=nonce, hotkey=hotkey, method=method, path=path, body=body)
    if not verify_signature(hotkey, message, signature):
        raise SignatureRejected(
            "Invalid signature: expected the hotkey's sr25519 signature of "
            "'{nonce}.{hotkey}.{METHOD}.{path}.{body_hash}'.")
    return SignedCaller(hotkey=hotkey, nonce=nonce)
