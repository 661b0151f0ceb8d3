"""A service that is down or hangs costs its own routes only, and only for the timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


@pytest.fixture
def findings_down(system: System) -> Iterator[None]:
    system.stack.stop_app("findings")
    try:
        yield
    finally:
        system.stack.start_app("findings")
        system.stack.wait_ready()


def test_downed_service_is_503_while_the_others_answer(system: System, findings_down: None) -> None:
    with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=10) as gw:
        started = time.monotonic()
        down = gw.get("/api/v1/findings")
        elapsed = time.monotonic() - started
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["type"] == "/problems/service-unavailable"
        assert elapsed < 2.0  # connection refused is immediate; bounded by the connect timeout
        assert gw.get("/api/v1/targets").status_code == 200
        assert gw.get("/api/v1/leads").status_code == 200
        ready = gw.get("/readyz")
        assert ready.status_code == 200  # the gateway still serves; a balancer keeps it
        assert ready.json()["status"] == "degraded"
        assert ready.json()["services"]["findings"] == "unavailable"
        assert ready.json()["services"]["rounds"] == "ok"


def test_hanging_service_is_504_within_the_timeout(system: System, findings_down: None) -> None:
    port = system.stack.ports["findings"]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accepts and never answers
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=system.gateway, headers=system.auth, timeout=20) as gw:
            started = time.monotonic()
            resp = gw.get("/api/v1/findings")
            elapsed = time.monotonic() - started
            assert resp.status_code == 504
            assert resp.json()["type"] == "/problems/gateway-timeout"
            assert 2.5 < elapsed < 6.0  # the configured read timeout is 3 s
            assert gw.get("/api/v1/targets").status_code == 200
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()
