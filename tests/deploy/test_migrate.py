"""The migrations as the images run them (entrypoint, then `python -m ops migrate` or
deploy/migrate_apps.py), against the test session's PostgreSQL, with the secrets laid out as the
compose file and the Kubernetes Job mount them. The session's own passwords and client secrets
are reused, so the (idempotent) runs change nothing for the other tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ops.stack import Database
from tests.deploy.helpers import APPS, DEPLOY, ROOT, SERVICES


def with_placeholder(url: str) -> tuple[str, str]:
    """The URL with its password replaced by `{password}`, and the password."""
    parts = urlsplit(url)
    assert parts.password is not None
    netloc = f"{parts.username}:{{password}}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), parts.password


def layout(database: Database, tmp_path: Path) -> tuple[Path, Path]:
    """A data dir whose secrets/ holds what the Job mounts there, and the admin password file."""
    data_dir = tmp_path / "data"
    secrets = data_dir / "secrets"
    secrets.mkdir(parents=True)
    source = database.data_dir / "secrets"
    for app in APPS:
        shutil.copy(source / f"db-{app}.password", secrets)
    for name in SERVICES:
        shutil.copy(source / f"client-{name}.secret", secrets)
    secrets.chmod(0o555)
    assert database.admin_url is not None
    _, admin_password = with_placeholder(database.admin_url)
    admin_file = tmp_path / "admin.password"
    admin_file.write_text(admin_password + "\n")
    return data_dir, admin_file


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(DEPLOY / "entrypoint.py"), *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ops_migrate_as_the_shared_db_job_runs_it(database: Database, tmp_path: Path) -> None:
    data_dir, admin_file = layout(database, tmp_path)
    assert database.admin_url is not None
    admin_url, _ = with_placeholder(database.admin_url)
    result = run(
        [sys.executable, "-m", "ops", "migrate"],
        {
            "DATABASE_URL": admin_url,
            "DATABASE_PASSWORD_FILE": str(admin_file),
            "INSPECTION_DATA_DIR": str(data_dir),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "migrated: findings, gateway, referrals, rounds" in result.stdout
    assert sorted(p.name for p in (data_dir / "secrets").iterdir()) == sorted(
        [f"db-{a}.password" for a in APPS] + [f"client-{s}.secret" for s in SERVICES]
    ), "nothing generated: every secret came from the mounts"


def test_migrate_apps_as_the_db_per_service_job_runs_it(database: Database, tmp_path: Path) -> None:
    data_dir, _ = layout(database, tmp_path)
    env = {"INSPECTION_DATA_DIR": str(data_dir)}
    for app in APPS:
        url, _ = with_placeholder(database.urls[app])
        env[f"{app.upper()}_DATABASE_URL"] = url
        env[f"{app.upper()}_DATABASE_PASSWORD_FILE"] = str(
            data_dir / "secrets" / f"db-{app}.password"
        )
    result = run([sys.executable, str(DEPLOY / "migrate_apps.py")], env)
    assert result.returncode == 0, result.stdout + result.stderr
    for app in APPS:
        assert f"migrated {app}" in result.stdout
    assert "service clients: findings, referrals, rounds" in result.stdout


def test_migrate_apps_names_what_is_missing(tmp_path: Path) -> None:
    result = run([sys.executable, str(DEPLOY / "migrate_apps.py")], {})
    assert result.returncode != 0
    assert "GATEWAY_DATABASE_URL" in result.stderr
