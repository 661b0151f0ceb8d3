"""`make run`'s entry point as a user meets it: it comes up, says how to log in, and Ctrl-C
stops everything, PostgreSQL included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ops.bootstrap import ROOT
from ops.pg import EmbeddedPostgres, free_port

pytestmark = pytest.mark.e2e


def test_run_prints_how_to_log_in_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    base = free_port()
    while any(_taken(base + i) for i in range(4)):
        base = free_port()
    pg_port = free_port()
    env = {
        **os.environ,
        "INSPECTION_DATA_DIR": str(tmp_path),
        "INSPECTION_PORT_BASE": str(base),
        "INSPECTION_PG_PORT": str(pg_port),
        "COLUMNS": "200",
    }
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            output += line
        assert f"http://127.0.0.1:{base}/docs" in output, output
        password = (tmp_path / "secrets" / "dev-admin.password").read_text().strip()
        assert f"user admin password {password}" in " ".join(output.split()), output

        gateway = f"http://127.0.0.1:{base}"
        assert httpx.get(gateway + "/readyz").status_code == 200
        token = httpx.post(
            gateway + "/api/v1/auth/token",
            data={"grant_type": "password", "username": "admin", "password": password},
        )
        assert token.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        output += rest
    assert proc.returncode == 0, output
    assert "stopped" in output
    for port in range(base, base + 4):
        assert not _taken(port), f"port {port} still served after Ctrl-C"
    assert not EmbeddedPostgres(tmp_path / "pg", pg_port).is_running()


def _taken(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
