"""Webhook URLs must not reach into our own network (SSRF): an address that is not globally
routable (private, loopback, link-local, carrier-grade NAT as cloud metadata services use,
documentation, reserved, unspecified) or is multicast is refused, at registration and again at
each send (DNS may change in between), unless the operator allows them
(`GATEWAY_WEBHOOKS_ALLOW_PRIVATE`, as the test setup does). IPv6 forms that carry an IPv4
address (mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`) are judged by that address.

Known limit: the check resolves the name, then the HTTP client resolves it again to connect;
a DNS server answering differently within that moment (rebinding) is not caught here."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(Exception):
    """The URL may not be called."""


def _embedded(ip: Address) -> Address:
    """The IPv4 address an IPv6 one stands for, if it stands for one."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return inner
    return ip


def forbidden(address: str) -> bool:
    """Whether a resolved address is off limits (not a public unicast one)."""
    ip = _embedded(ipaddress.ip_address(address.split("%", 1)[0]))
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raises UnsafeURL unless `url` is http(s), has a host, carries no credentials and (unless
    `allow_private`) every address its host resolves to is public. An IP literal is judged as
    it stands, without asking DNS."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a bad port or IPv6 literal
        raise UnsafeURL(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL("an http(s) URL with a host is required")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("credentials in the URL are not allowed")
    if allow_private:
        return
    host = parts.hostname
    literal = _literal(host)
    if literal is not None:
        if forbidden(str(literal)):
            raise UnsafeURL(f"{host} is not a public address")
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise UnsafeURL(f"{host} does not resolve") from exc
    for info in infos:
        address = str(info[4][0])
        if forbidden(address):
            raise UnsafeURL(f"{host} resolves to a non-public address ({address})")
