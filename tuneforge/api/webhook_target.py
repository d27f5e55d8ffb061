"""Which webhook URLs the API may POST to: public addresses only, unless the operator allows private ones.

A webhook URL is chosen by the API client, so without a check the validator would POST to
whatever the client names: its own admin ports on 127.0.0.1, a cloud metadata service at
169.254.169.254, machines on the operator's private network. Three checks keep it to the public
internet:

- at submission (before any credit is charged), :func:`webhook_url_problem` refuses a malformed
  URL, credentials in the URL, a host that is not a syntactically valid DNS name or canonical IP
  literal (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``, ``10.1`` are refused: C
  resolvers read them as IPv4 addresses, so they are loopback or private addresses in disguise),
  ``localhost`` and other special-use names, single-label names (resolved through the server's
  search domains, i.e. to internal hosts), and a literal IP that is not global unicast (400 naming
  ``webhook_url``);
- at delivery, :class:`PublicOnlyResolver` (the resolver of the dispatcher's connector) drops
  every non-public address a host name resolves to, so a name pointing at 10.0.0.5 (or re-pointed
  there after submission) is refused;
- at connect time, :func:`public_socket` (the connector's socket factory) checks the address every
  socket is about to connect to, literals included: aiohttp never passes an IP literal through
  its resolver, so this is the check that nothing can route around.

An address is public (:func:`is_public_address`) when it is global unicast after decoding any IPv4
address an IPv6 form carries: IPv4-mapped ``::ffff:a.b.c.d``, SIIT ``::ffff:0:a.b.c.d``, NAT64
``64:ff9b::/96`` and 6to4 ``2002::/16`` are judged by their IPv4 address (``64:ff9b::a9fe:a9fe``
is the metadata service); IPv4-compatible ``::a.b.c.d`` (deprecated), Teredo ``2001::/32``,
local-use NAT64 ``64:ff9b:1::/48``, site-local ``fec0::/10`` and everything outside
``2000::/3`` are refused. Python's ``is_global`` alone is not enough: on 3.11 it calls most of
these forms public.

``--api.webhook_allow_private`` turns the address checks off (the URL's syntax is still checked),
for a local network or a test bench where the receivers live on 127.0.0.1.
"""

import errno
import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

__all__ = [
    "PublicOnlyResolver", "embedded_ipv4", "is_public_address", "public_socket", "webhook_connector",
    "webhook_url_problem",
]

#: Names that never leave the machine or the site (RFC 6761, RFC 6762, RFC 8375, ICANN's ``.internal``).
_SPECIAL_NAMES = ("localhost", "localdomain", "local", "internal", "home.arpa", "invalid", "test", "onion",
                  "ip6-localhost", "ip6-loopback")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
#: What a C resolver's ``inet_aton`` reads as an IPv4 address: 1-4 parts, each decimal, octal or hex.
_INET_ATON_FORM = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$")
_MAX_NAME = 253

# Address blocks that are never a public webhook receiver, checked on top of ``is_global`` (whose
# table has changed between Python versions). IANA special-purpose registries, IPv4 and IPv6.
_NON_PUBLIC_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
))
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NON_PUBLIC_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "2001::/23",  # IETF protocol assignments (Teredo 2001::/32, ORCHID, benchmarking, ...)
    "2001:db8::/32", "3fff::/20",  # documentation
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the IPv4 address is translated
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 IPv4-translated
_COMPAT = ipaddress.IPv6Network("::/96")  # RFC 4291 IPv4-compatible (deprecated), also :: and ::1


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for when packets to it reach that IPv4 host:
    IPv4-mapped, SIIT-translated, NAT64 (``64:ff9b::/96``) or 6to4 (``2002::/16``); else None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _SIIT or ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in _NON_PUBLIC_V4)


def is_public_address(address: str) -> bool:
    """True if ``address`` (an IPv4/IPv6 literal) is global unicast: not loopback, private,
    link-local, site-local, multicast, reserved, documentation or unspecified, judged after decoding
    any IPv4 address an IPv6 form carries (see the module text). A scoped address (``%zone``) or
    anything that is not an IP literal → False."""
    if "%" in address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_v4(ip)
    inner = embedded_ipv4(ip)
    if inner is not None:
        return _public_v4(inner)
    if ip in _COMPAT:
        return False
    return (ip in _GLOBAL_UNICAST_V6 and ip.is_global and not ip.is_multicast
            and not any(ip in net for net in _NON_PUBLIC_V6))


def _name_problem(host: str) -> str | None:
    """Why ``host`` (lower case, ASCII or IDNA-encodable) is not a valid DNS host name, or None."""
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return f"has an invalid host name {host!r}"
    if len(ascii_host) > _MAX_NAME:
        return f"has a host name longer than {_MAX_NAME} characters"
    labels = ascii_host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return (f"has an invalid host name {host!r} (letters, digits and hyphens in dot-separated labels "
                "of 1-63 characters)")
    if labels[-1].isdigit():
        return f"has an invalid host name {host!r} (a top-level domain is never all digits)"
    return None


def _same_host_for_aiohttp(url: str, host: str, is_ip: bool) -> bool:
    """Whether aiohttp's URL parser (yarl) finds the same host as ours: no parser differential."""
    try:
        theirs = yarl.URL(url).raw_host
    except (ValueError, TypeError):
        return False
    if theirs is None:
        return False
    if is_ip:
        try:
            return ipaddress.ip_address(theirs.split("%", 1)[0]) == ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
    ours = host if host.isascii() else host.encode("idna").decode("ascii")
    return theirs.rstrip(".").lower() == ours


def webhook_url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook target, or None if it can (as far as the URL alone tells).

    The message completes ``"webhook_url: ..."``, e.g. ``"must point at a public address, not 10.0.0.1"``."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a port out of range or not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    del port
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not contain credentials"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "has no host"
    bracketed = parts.netloc.startswith("[")
    literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if bracketed:
        address, _, zone = host.partition("%")
        try:
            literal = ipaddress.IPv6Address(address)
        except ValueError:
            return f"has an invalid IPv6 address {host!r}"
        if zone and not allow_private:
            return f"must point at a public address, not the scoped address {host}"
    else:
        try:
            literal = ipaddress.IPv4Address(host)
        except ValueError:
            if _INET_ATON_FORM.match(host):
                return (f"has {host!r}, which is not a canonical IPv4 address "
                        "(write four decimal numbers, e.g. 93.184.216.34)")
            problem = _name_problem(host)
            if problem:
                return problem
    if not _same_host_for_aiohttp(url, host, literal is not None):
        return "is ambiguous: its host reads differently to different URL parsers"
    if allow_private:
        return None
    if literal is not None:
        return None if is_public_address(host) else f"must point at a public address, not {host}"
    lower = host.lower()
    if any(lower == name or lower.endswith("." + name) for name in _SPECIAL_NAMES):
        return f"must point at a public host, not localhost or another special-use name ({host})"
    if "." not in lower:
        return f"must name a fully qualified public host, not the single label {host!r}"
    return None


def _refused(host: str, found: str) -> OSError:
    # (errno, message): aiohttp shows the strerror in its ClientConnectorError
    return OSError(errno.EACCES, f"webhook host {host} resolves only to non-public addresses ({found}); "
                   "refused (--api.webhook_allow_private allows them)")


class PublicOnlyResolver(AbstractResolver):
    """An aiohttp resolver that returns only the public addresses a host name resolves to.

    Raises ``OSError`` naming the host when none is left, which the dispatcher records as the
    attempt's error. (aiohttp does not resolve IP literals; :func:`public_socket` covers them.)
    """

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict[str, Any]]:
        infos = await self._inner.resolve(host, port, family)
        public = [info for info in infos if is_public_address(str(info["host"]))]
        if not public:
            raise _refused(host, ", ".join(sorted({str(info["host"]) for info in infos})) or "nothing")
        return public

    async def close(self) -> None:
        await self._inner.close()


def public_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """aiohttp's socket factory for webhook connections: a socket only for a public address.

    ``addr_info`` is one ``getaddrinfo`` entry ``(family, type, proto, canonname, sockaddr)``.
    Raises ``OSError`` (EACCES) for any other address, IP literals included."""
    family, type_, proto, _, sockaddr = addr_info
    host = str(sockaddr[0])
    if not is_public_address(host):
        raise OSError(errno.EACCES, f"webhook connection to the non-public address {host} refused "
                      "(--api.webhook_allow_private allows it)")
    return socket.socket(family=family, type=type_, proto=proto)


def webhook_connector(*, allow_private: bool) -> aiohttp.TCPConnector:
    """The connector webhook deliveries use: public addresses only (resolver and socket factory)
    unless ``allow_private``."""
    if allow_private:
        return aiohttp.TCPConnector()
    return aiohttp.TCPConnector(resolver=PublicOnlyResolver(), socket_factory=public_socket)
