"""Where webhooks may go: http(s) URLs whose host resolves to public addresses only.

Checked twice: the URL's form at registration (scheme, host, no credentials, an
IP literal's range), and every address the host resolves to at every delivery,
so a name that later points inside the network (DNS rebinding) is refused too.
The sender then connects to the address that was checked, not to a second
lookup. Private, loopback, link-local, shared, reserved, multicast and
unspecified addresses are refused unless ``allow_private`` (then only multicast
and unspecified ones are).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from dispatch.errors import InvalidInput

__all__ = ["MAX_URL_LENGTH", "Resolver", "Target", "address_problem", "parse_target", "resolve"]

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: host, port -> the addresses it resolves to (``socket.getaddrinfo`` by default).
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: what to connect to and what to ask for."""

    url: str
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    target: str  # path and query, at least "/"

    def url_for(self, address: str) -> str:
        """The URL with the host replaced by one checked address."""
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.target}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_problem(address: str | IPAddress, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to this address (None: it may)."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return f"{ip} is a multicast or unspecified address"
    if allow_private or ip.is_global:
        return None
    return f"{ip} is a private, loopback, link-local or reserved address"


def parse_target(url: str, allow_private: bool) -> Target:
    """The URL's parts, or ``InvalidInput`` saying what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"a webhook URL has at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x21 for c in url):
        raise InvalidInput("a webhook URL may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInput("a webhook URL must use http or https")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("a webhook URL may not hold credentials (user:password@)")
    if parts.fragment:
        raise InvalidInput("a webhook URL may not hold a fragment (#...)")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInput("a webhook URL needs a host")
    try:
        host.encode("idna")
    except UnicodeError:
        raise InvalidInput("a webhook URL's host is not a valid host name") from None
    ip = _literal(host)
    if ip is not None:
        problem = address_problem(ip, allow_private)
        if problem:
            raise InvalidInput(f"webhook target refused: {problem}")
    elif not allow_private and (host == "localhost" or host.endswith(".localhost")):
        raise InvalidInput("webhook target refused: localhost is a loopback name")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Target(url, scheme, host, port or (443 if scheme == "https" else 80), target)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve(target: Target, allow_private: bool, resolver: Resolver | None = None) -> str:
    """The address to connect to: every address of the host must be allowed.

    Raises ``InvalidInput`` when the host does not resolve or any address is refused.
    """
    ip = _literal(target.host)
    if ip is not None:
        addresses = [str(ip)]
    else:
        try:
            addresses = (resolver or system_resolver)(target.host, target.port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise InvalidInput(f"{target.host} does not resolve: {exc}") from None
    if not addresses:
        raise InvalidInput(f"{target.host} has no address")
    for address in addresses:
        problem = address_problem(address, allow_private)
        if problem:
            raise InvalidInput(f"webhook target {target.host} refused: {problem}")
    return addresses[0]
