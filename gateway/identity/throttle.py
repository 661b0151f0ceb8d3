"""Failed logins per client address: against credential stuffing (one address trying many
accounts, each only a few times, which the per-account lockout never sees) and against burning
the gateway's CPU on password hashes.

After `limit` failed password or client-credentials grants from one address within `window`
seconds, every such grant from it is answered 429 with Retry-After until the oldest failure
leaves the window, without checking the password. A success does not clear the count (one
valid account must not buy more guesses at the others). IPv6 addresses count per /64 (one
subscriber's prefix). The address is the peer's, or the one a trusted proxy names
(`GATEWAY_AUDIT_TRUSTED_PROXIES`), as in the audit trail.

Counted in each gateway process's memory: behind N replicas an address gets up to N × limit
tries per window, and a restart forgets. That bounds the attack without a database write per
failure; the per-account lockout (service.py) is in the database and holds across replicas.
The limit is high enough for an office whose staff share one NAT address.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque


class LoginThrottle:
    def __init__(self, limit: int, window_seconds: float, *, max_addresses: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def key(address: str | None) -> str:
        if address is None:
            return "unknown"
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.IPv6Network((ip, 64), strict=False))
        return str(ip)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def wait(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None if it may now."""
        now = time.monotonic()
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return None
        return max(1, math.ceil(times[0] + self.window - now))

    def failed(self, key: str) -> None:
        now = time.monotonic()
        times = self._recent(key, now)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.limit)
            if len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        times.append(now)
