"""The whole system on one machine: PostgreSQL (embedded unless DATABASE_URL names a server),
provisioning and migrations, then the three services and the gateway as real processes.
Used by `make run` and by the end-to-end tests, so both exercise the same path."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ops.bootstrap import APPS, ROOT, provision_and_migrate
from ops.pg import EmbeddedPostgres
from ops.users import ensure_service_clients

DATABASE = "inspection"
DEFAULT_PORTS = {"gateway": 8000, "rounds": 8001, "findings": 8002, "referrals": 8003}
APP_FACTORIES = {
    "gateway": "gateway.app:create_app",
    "rounds": "services.rounds.app:create_app",
    "findings": "services.findings.app:create_app",
    "referrals": "services.referrals.app:create_app",
}


@dataclass
class Database:
    """Where the data lives; `admin_url` is a role allowed to create roles and schemas."""

    data_dir: Path
    admin_url: str | None = None
    pg_port: int = 54329
    embedded: EmbeddedPostgres | None = None
    urls: dict[str, str] = field(default_factory=dict)
    client_secrets: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        if self.admin_url is None:
            self.embedded = EmbeddedPostgres(self.data_dir / "pg", self.pg_port)
            self.embedded.start()
            self.admin_url = self.embedded.admin_url()
        self.urls = provision_and_migrate(self.admin_url, DATABASE, self.data_dir / "secrets")
        self.client_secrets = asyncio.run(
            ensure_service_clients(self.urls["gateway"], self.data_dir)
        )

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    def restart(self, mode: str = "fast", down_seconds: float = 0.0) -> None:
        """Restarts the embedded server (see `EmbeddedPostgres.stop` for `mode`); the apps keep
        running and have to reconnect. A server named by `admin_url` is not ours to restart."""
        if self.embedded is None:
            raise RuntimeError("only an embedded PostgreSQL can be restarted from here")
        self.embedded.restart(mode, down_seconds)


@dataclass
class Stack:
    db: Database
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    log_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, app: str) -> str:
        return f"http://127.0.0.1:{self.ports[app]}"

    def env_for(self, app: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT)
        env["PYTHONUNBUFFERED"] = "1"  # log lines reach the file as they happen
        gateway = self.url("gateway")
        for a in APPS:
            if a.name == app:
                env[f"{a.env_prefix}DATABASE_URL"] = self.db.urls[a.name]
                env[f"{a.env_prefix}GATEWAY_URL"] = gateway
                env[f"{a.env_prefix}OUTBOX_RELAY"] = "true"  # whatever the caller's env says
                if app in self.db.client_secrets:
                    env[f"{a.env_prefix}CLIENT_SECRET"] = self.db.client_secrets[app]
        if app == "findings":
            env["FINDINGS_EVIDENCE_DIR"] = str(self.db.data_dir / "evidence")
        if app == "gateway":
            env["GATEWAY_SIGNING_KEY_FILE"] = str(self.db.data_dir / "keys" / "gateway-signing.pem")
            env["GATEWAY_PUBLIC_URL"] = gateway
            for name in ("rounds", "findings", "referrals"):
                env[f"GATEWAY_{name.upper()}_URL"] = self.url(name)
        env.update(self.extra_env)
        return env

    def start_app(self, app: str) -> subprocess.Popen[bytes]:
        cmd = [
            sys.executable, "-m", "uvicorn", APP_FACTORIES[app], "--factory",
            "--host", "127.0.0.1", "--port", str(self.ports[app]),
            "--loop", "uvloop", "--http", "httptools",
            "--no-server-header", "--no-access-log", "--timeout-graceful-shutdown", "5",
        ]  # fmt: skip
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{app}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env_for(app), stdout=out, stderr=subprocess.STDOUT
            if out else None, start_new_session=True,
        )  # fmt: skip
        self.procs[app] = proc
        return proc

    def start(self, timeout: float = 60.0) -> None:
        for app in ("rounds", "findings", "referrals", "gateway"):
            self.start_app(app)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for app, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{app} exited with code {proc.returncode}")
            try:
                resp = httpx.get(self.url("gateway") + "/readyz", timeout=2.0)
                if resp.status_code == 200 and resp.json()["status"] == "ok":
                    return
                last = resp.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise RuntimeError(f"the system did not become ready in {timeout}s: {last}")

    def stop_app(self, app: str) -> None:
        proc = self.procs.pop(app, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def kill_app(self, app: str) -> None:
        """kill -9: no graceful shutdown, no lifespan exit; requests in flight are cut where
        they stand (the fault tests' crash)."""
        proc = self.procs.pop(app, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def restart_app(self, app: str, timeout: float = 60.0) -> None:
        """Starts `app` again (after `stop_app` or `kill_app`) and waits until all is ready."""
        if app in self.procs and self.procs[app].poll() is None:
            self.stop_app(app)
        self.start_app(app)
        self.wait_ready(timeout)

    def stop(self) -> None:
        for app in list(self.procs):
            self.stop_app(app)
