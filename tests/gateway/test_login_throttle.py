"""Failed logins counted per client address (gateway/identity/throttle.py)."""

from __future__ import annotations

import pytest

from gateway.identity import throttle as module
from gateway.identity.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(module.time, "monotonic", clock)
    return clock


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # the same IPv4 address, written as IPv6
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::99", "2001:db8:1:2::/64"),  # one subscriber's prefix
        (None, "unknown"),
    ],
)
def test_addresses_count_per_host_or_ipv6_prefix(address: str | None, key: str) -> None:
    assert LoginThrottle.key(address) == key


def test_the_limit_holds_until_the_oldest_failure_leaves_the_window(clock: Clock) -> None:
    throttle = LoginThrottle(limit=3, window_seconds=60)
    for _ in range(2):
        throttle.failed("a")
        clock.now += 10
    assert throttle.wait("a") is None
    throttle.failed("a")  # the third within the window: t = 1000, 1010, 1020
    assert throttle.wait("a") == 40
    assert throttle.wait("b") is None  # other addresses are not affected
    clock.now = 1060  # the first failure left the window
    assert throttle.wait("a") is None
    throttle.failed("a")
    assert throttle.wait("a") == 10


def test_memory_stays_bounded(clock: Clock) -> None:
    throttle = LoginThrottle(limit=2, window_seconds=60, max_addresses=100)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
        throttle.failed("198.51.100.1")  # a busy address stays, it is used again and again
    assert len(throttle._failures) == 100
    assert throttle.wait("198.51.100.1") is not None
    assert len(throttle._failures["198.51.100.1"]) == 2  # never more than the limit kept
