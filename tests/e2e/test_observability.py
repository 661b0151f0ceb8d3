"""What operators see: metrics on every app, the request id and the trace across processes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

APPS = ("gateway", "rounds", "findings", "referrals")


def log_lines(system: System, app: str) -> list[dict[str, Any]]:
    assert system.stack.log_dir is not None
    out = []
    for line in Path(system.stack.log_dir, f"{app}.log").read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def wait_for(system: System, app: str, rid: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [
            e
            for e in log_lines(system, app)
            if e.get("request_id") == rid and e.get("event") == "request"
        ]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no log line of {app} carries request id {rid}")


def test_every_app_serves_its_metrics(system: System) -> None:
    for resource in ("targets", "findings", "leads"):
        httpx.get(f"{system.gateway}/api/v1/{resource}", headers=system.auth)
    for app in APPS:
        resp = httpx.get(f"{system.url(app)}/metrics")
        assert resp.status_code == 200, app
        text = resp.text
        for name in (
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "db_pool_connections_in_use",
        ):
            assert name in text, (app, name)
    gateway = httpx.get(f"{system.gateway}/metrics").text
    assert 'route="/api/v1/targets"' in gateway
    rounds = httpx.get(f"{system.url('rounds')}/metrics").text
    assert 'route="/api/v1/targets"' in rounds


def test_a_request_id_is_on_the_lines_of_the_gateway_and_the_service(system: System) -> None:
    rid = "obs-" + uuid.uuid4().hex
    resp = httpx.get(
        f"{system.gateway}/api/v1/targets/{uuid.uuid4()}",
        headers={**system.auth, "X-Request-ID": rid},
    )
    assert resp.status_code == 404
    gateway = wait_for(system, "gateway", rid)
    rounds = wait_for(system, "rounds", rid)
    assert gateway[-1]["status"] == 404
    assert rounds[-1]["route"] == "/api/v1/targets/{target_id}"
    assert rounds[-1]["app"] == "rounds"


def test_a_trace_started_at_the_gateway_continues_in_the_service(system: System) -> None:
    rid = "trace-" + uuid.uuid4().hex
    httpx.get(f"{system.gateway}/api/v1/targets", headers={**system.auth, "X-Request-ID": rid})
    gateway = wait_for(system, "gateway", rid)[-1]
    rounds = wait_for(system, "rounds", rid)[-1]
    assert len(gateway["trace_id"]) == 32
    assert rounds["trace_id"] == gateway["trace_id"]

    # a caller's own trace is continued end to end
    trace_id = uuid.uuid4().hex
    rid2 = "trace-" + uuid.uuid4().hex
    parent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    httpx.get(
        f"{system.gateway}/api/v1/targets",
        headers={**system.auth, "X-Request-ID": rid2, "traceparent": parent},
    )
    assert wait_for(system, "gateway", rid2)[-1]["trace_id"] == trace_id
    assert wait_for(system, "rounds", rid2)[-1]["trace_id"] == trace_id
