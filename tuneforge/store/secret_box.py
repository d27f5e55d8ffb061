"""Webhook secrets at rest: sealed with a key file that never enters the database.

The API signs every webhook with HMAC-SHA256 keyed by the account's secret, so the server needs
the secret itself: it cannot be hashed like an API key. It is stored sealed instead, with
AES-256-SIV (RFC 5297, pycryptodome, already a bittensor dependency) under a 64-byte key kept in a
file (default ``<state_dir>/api_secrets.key``, mode 0600, created on first start), with the
account id as associated data, so a sealed value copied onto another account does not open. A
database dump, backup, replica or read-only SQL access alone does not reveal any secret; whoever
also holds the key file does (on the default SQLite layout the key sits beside the database, so
the gain there is against the database file leaking on its own, not against the machine's owner).

Sealed values read ``enc1:`` + base64url(16-byte SIV tag + ciphertext): 77 characters for a
38-character ``whsec_...`` secret, inside the column's 80. SIV needs no nonce; it is
deterministic, which reveals only whether two sealed values hold the same secret, and secrets are
random. API replicas sharing a database must share the key file (copy it, or point
``--api.secret_key_file`` at one copy).
"""

import base64
import binascii
import logging
import os
import secrets
from pathlib import Path

from Crypto.Cipher import AES

from tuneforge.store.permissions import FILE_MODE, private_directory

__all__ = ["KEY_BYTES", "KEY_FILE_NAME", "SEALED_PREFIX", "SecretBox", "SecretKeyError", "default_key_file",
           "is_sealed"]

log = logging.getLogger(__name__)

KEY_BYTES = 64  # AES-256-SIV: two 256-bit keys (S2V and CTR)
SEALED_PREFIX = "enc1:"
_TAG_BYTES = 16


class SecretKeyError(ValueError):
    """The key file is unreadable, malformed, or not the key the stored secrets were sealed with."""


def is_sealed(value: str) -> bool:
    """Whether a stored value is sealed (else it is a secret stored in plain text by an older version)."""
    return value.startswith(SEALED_PREFIX)


class SecretBox:
    """Seals and opens short secrets with one AES-256-SIV key.

    Args:
        key: ``KEY_BYTES`` random bytes.
        path: the key file it came from (for messages), or None for a key held in memory only.
    """

    def __init__(self, key: bytes, *, path: Path | None = None) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"a secrets key is {KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        self.path = path

    @classmethod
    def ephemeral(cls) -> "SecretBox":
        """A fresh key kept in memory (an in-memory database, whose secrets die with the process)."""
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def load(cls, path: str | Path) -> "SecretBox":
        """The key in ``path`` (hex text). Raises :class:`SecretKeyError` naming the file."""
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="ascii").strip()
            key = binascii.unhexlify(text)
        except (OSError, UnicodeError, binascii.Error) as exc:
            raise SecretKeyError(f"cannot read the secrets key {path}: {exc}") from exc
        if os.stat(path).st_mode & 0o077:
            log.warning("the secrets key %s is readable by other users; chmod 600 it", path)
        return cls(key, path=path)

    @classmethod
    def create(cls, path: str | Path) -> "SecretBox":
        """A new random key written to ``path`` (0600, never overwriting: if another process created
        it first, that key is loaded)."""
        path = Path(path).expanduser()
        private_directory(path.parent, tighten=False)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return cls.load(path)
        try:
            os.write(fd, binascii.hexlify(key) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        log.info("created the secrets key %s (webhook secrets are sealed with it; keep it with the database)", path)
        return cls(key, path=path)

    def seal(self, secret: str, *, context: str) -> str:
        """``secret`` sealed and bound to ``context`` (the account id)."""
        cipher = AES.new(self._key, AES.MODE_SIV)
        cipher.update(context.encode())
        ciphertext, tag = cipher.encrypt_and_digest(secret.encode())
        return SEALED_PREFIX + base64.urlsafe_b64encode(tag + ciphertext).decode().rstrip("=")

    def open(self, sealed: str, *, context: str) -> str:
        """The secret in ``sealed``. Raises :class:`SecretKeyError` when this key (or ``context``)
        is not the one it was sealed with."""
        if not is_sealed(sealed):
            raise SecretKeyError("not a sealed value")
        body = sealed[len(SEALED_PREFIX):]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            cipher = AES.new(self._key, AES.MODE_SIV)
            cipher.update(context.encode())
            return cipher.decrypt_and_verify(raw[_TAG_BYTES:], raw[:_TAG_BYTES]).decode()
        except (ValueError, binascii.Error) as exc:
            where = f"the key in {self.path}" if self.path else "this key"
            raise SecretKeyError(f"a webhook secret does not open with {where} (a different "
                                 "--api.secret_key_file than the one it was sealed with?)") from exc


KEY_FILE_NAME = "api_secrets.key"


def default_key_file(database_url: str, audio_dir: str | Path) -> Path | None:
    """Where the secrets key lives when no ``--api.secret_key_file`` is given: beside a SQLite
    database file, else beside the audio directory (both the state directory in the default
    layout); None for an in-memory SQLite database (its key is held in memory too)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).expanduser().parent / KEY_FILE_NAME
    return Path(audio_dir).expanduser().parent / KEY_FILE_NAME
