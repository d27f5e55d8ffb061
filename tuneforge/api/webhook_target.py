"""Which webhook URLs the API may POST to: public addresses only, unless the operator allows private ones.

A webhook URL is chosen by the API client, so without a check the validator would POST to
whatever the client names: its own admin ports on 127.0.0.1, a cloud metadata service at
169.254.169.254, machines on the operator's private network. Two checks keep it to the public
internet:

- at submission, :func:`webhook_url_problem` refuses a malformed URL, credentials in the URL, and a
  host that is ``localhost`` or a literal non-public IP address (400 naming ``webhook_url``);
- at delivery, :class:`PublicOnlyResolver` (the resolver of the dispatcher's connector) drops
  every non-public address a host name resolves to, so a name pointing at 10.0.0.5 (or re-pointed
  there after submission) is refused at connect time, with no window between check and use.

``--api.webhook_allow_private`` turns both off, for a local network or a test bench where the
receivers live on 127.0.0.1.
"""

import errno
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

__all__ = ["PublicOnlyResolver", "is_public_address", "webhook_url_problem"]

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def is_public_address(address: str) -> bool:
    """True if ``address`` (an IPv4/IPv6 literal) is globally routable: not loopback, private,
    link-local, multicast, reserved or unspecified. An IPv4-mapped IPv6 address is judged by its
    IPv4 part. Not an IP literal → False."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def webhook_url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook target, or None if it can (as far as the URL alone tells)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a port out of range or not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    del port
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials"
    if allow_private:
        return None
    if host.lower() in _LOCAL_NAMES or host.lower().endswith(".localhost"):
        return "must point at a public host, not localhost"
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # a host name: checked again when it is resolved at delivery
    if not is_public_address(host):
        return f"must point at a public address, not {host}"
    return None


class PublicOnlyResolver(AbstractResolver):
    """An aiohttp resolver that returns only the public addresses a host name resolves to.

    Raises ``OSError`` naming the host when none is left, which the dispatcher records as the
    attempt's error. (aiohttp does not resolve IP literals; :func:`webhook_url_problem` covers them.)
    """

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict[str, Any]]:
        infos = await self._inner.resolve(host, port, family)
        public = [info for info in infos if is_public_address(str(info["host"]))]
        if not public:
            found = ", ".join(sorted({str(info["host"]) for info in infos})) or "nothing"
            # (errno, message): aiohttp shows the strerror in its ClientConnectorError
            raise OSError(errno.EACCES, f"webhook host {host} resolves only to non-public addresses ({found}); "
                          "refused (--api.webhook_allow_private allows them)")
        return public

    async def close(self) -> None:
        await self._inner.close()
