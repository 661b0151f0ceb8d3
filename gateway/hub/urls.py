"""Webhook URLs must not reach into our own network (SSRF): an address that is private,
loopback, link-local, multicast, reserved or unspecified is refused, at registration and again at
each send (DNS may change in between), unless the operator allows them
(`GATEWAY_WEBHOOKS_ALLOW_PRIVATE`, as the test setup does)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURL(Exception):
    """The URL may not be called."""


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_url(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL("an http(s) URL with a host is required")
    if parts.username or parts.password:
        raise UnsafeURL("credentials in the URL are not allowed")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise UnsafeURL(f"{parts.hostname} does not resolve") from exc
    for info in infos:
        address = str(info[4][0])
        if _forbidden(address):
            raise UnsafeURL(f"{parts.hostname} resolves to a non-public address ({address})")
