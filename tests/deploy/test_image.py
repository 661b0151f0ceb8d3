"""deploy/Dockerfile read carefully (no Docker engine here), its entrypoint and the lock filter."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ops.stack import APP_FACTORIES, DEFAULT_PORTS
from tests.deploy.helpers import APPS, DEPLOY, ROOT, load_module

DOCKERFILE = (DEPLOY / "Dockerfile").read_text("utf-8")
entrypoint = load_module(DEPLOY / "entrypoint.py")
runtime_requirements = load_module(DEPLOY / "runtime_requirements.py")


def stages() -> dict[str, str]:
    """Each stage's text by its name (continuation lines joined)."""
    text = DOCKERFILE.replace("\\\n", " ")
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        if m := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line):
            name = m.group(1)
            out[name] = ""
        if name is not None:
            out[name] += line + "\n"
    return out


STAGES = stages()


def test_targets_exist() -> None:
    assert {*APPS, "migrate"} <= set(STAGES)


def test_base_image_is_pinned() -> None:
    m = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert m is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", m.group(1))
    assert "latest" not in DOCKERFILE


def test_dependencies_from_the_lock_with_hashes() -> None:
    assert "--require-hashes" in STAGES["deps"]
    assert "-r runtime.lock" in STAGES["deps"]
    assert "pip check" in STAGES["deps"]


@pytest.mark.parametrize("target", [*APPS, "migrate"])
def test_runs_as_non_root(target: str) -> None:
    # USER is set in the app/migrate stage the targets build on
    chain = STAGES["app"] if target in APPS else STAGES[target]
    assert re.search(r"^USER 10001:10001$", chain, re.M)


@pytest.mark.parametrize("app", APPS)
def test_command_and_healthcheck(app: str) -> None:
    stage = STAGES[app]
    port = DEFAULT_PORTS[app]
    assert f'"{APP_FACTORIES[app]}", "--factory"' in stage
    assert f'"--port", "{port}"' in stage
    for flag in (
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-server-header",
        "--no-access-log",
    ):
        assert f'"{flag}"' in stage
    assert f"ENV PORT={port}" in stage
    assert f"EXPOSE {port}" in stage
    assert "HEALTHCHECK" in STAGES["app"]
    assert "/healthz" in STAGES["app"]


def test_dockerignore_lets_in_what_is_copied() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text("utf-8").splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    for m in re.finditer(r"^COPY (?!--from)(.+)$", DOCKERFILE, re.M):
        *sources, _dest = m.group(1).split()
        for source in sources:
            assert source in allowed, source
            assert (ROOT / source).exists(), source


@pytest.mark.parametrize("app", APPS)
def test_the_files_copied_into_an_app_image_are_enough_to_import_it(
    app: str, tmp_path: Path
) -> None:
    """The app targets copy only parts of the tree: importing the factory from just those parts
    (in a fresh interpreter, without the repository on the path) proves nothing is missing."""
    for m in re.finditer(r"^COPY --from=source (\S+) (\S+)$", STAGES[app], re.M):
        source = ROOT / Path(m.group(1)).relative_to("/app")
        target = tmp_path / Path(m.group(2)).relative_to("/app")
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    module, factory = APP_FACTORIES[app].split(":")
    code = (
        "import importlib, sys\n"
        f"m = importlib.import_module({module!r})\n"
        f"assert callable(m.{factory})\n"
        f"assert m.__file__.startswith({str(tmp_path)!r}), m.__file__\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "deploy" / "entrypoint.py").is_file()
    migrations = {"gateway": "gateway/migrations"}.get(app, f"services/{app}/migrations")
    assert (tmp_path / migrations / "env.py").is_file()


# --- the runtime part of the lock ----------------------------------------------------------


def test_runtime_lock_keeps_the_runtime_closure_and_drops_dev_tools() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    lock = (ROOT / "requirements.lock").read_text("utf-8")
    kept = set(runtime_requirements.runtime_packages(pyproject, lock))
    assert runtime_requirements.direct_runtime(pyproject) <= kept
    for indirect in ("starlette", "pydantic-core", "greenlet", "sqlalchemy", "h11", "cffi"):
        assert indirect in kept
    for dev in ("pytest", "ruff", "mypy", "import-linter", "kubernetes-validate", "jsonschema"):
        assert dev not in kept
    filtered = runtime_requirements.runtime_lock(pyproject, lock)
    blocks = re.findall(
        r"^([a-z0-9-]+)==\S+ \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)", filtered, re.M
    )
    assert {name for name, _ in blocks} == kept, "every kept package keeps its hashes"


def test_runtime_lock_rejects_a_dependency_missing_from_the_lock() -> None:
    pyproject = '[project]\ndependencies = ["fastapi>=1", "not-in-the-lock>=1"]\n'
    with pytest.raises(ValueError, match="not-in-the-lock"):
        runtime_requirements.runtime_packages(pyproject, "fastapi==1.0 \\\n    --hash=sha256:00\n")


# --- the entrypoint ------------------------------------------------------------------------


def test_entrypoint_fills_in_passwords_and_client_secrets(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("p@ss/w:rd\n")
    (tmp_path / "client").write_text("s3cret\n")
    env = {
        "ROUNDS_DATABASE_URL": "postgresql+asyncpg://rounds_svc:{password}@db:5432/inspection",
        "ROUNDS_DATABASE_PASSWORD_FILE": str(tmp_path / "pw"),
        "ROUNDS_CLIENT_SECRET_FILE": str(tmp_path / "client"),
        "GATEWAY_SIGNING_KEY_FILE": "/run/secrets/key.pem",
        "FINDINGS_DATABASE_URL": "postgresql+asyncpg://u:literal@db/inspection",
    }
    assert entrypoint.resolve(env) == {
        "ROUNDS_DATABASE_URL": "postgresql+asyncpg://rounds_svc:p%40ss%2Fw%3Ard@db:5432/inspection",
        "ROUNDS_CLIENT_SECRET": "s3cret",
    }


def test_entrypoint_admin_url_and_explicit_values(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("adminpw")
    env = {
        "DATABASE_URL": "postgresql://postgres:{password}@db:5432/postgres",
        "DATABASE_PASSWORD_FILE": str(tmp_path / "pw"),
        "REFERRALS_CLIENT_SECRET": "given",
        "REFERRALS_CLIENT_SECRET_FILE": str(tmp_path / "missing"),
    }
    assert entrypoint.resolve(env) == {
        "DATABASE_URL": "postgresql://postgres:adminpw@db:5432/postgres"
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROUNDS_DATABASE_URL": "x://u:{password}@h/d"}, "ROUNDS_DATABASE_PASSWORD_FILE is unset"),
        (
            {
                "ROUNDS_DATABASE_URL": "x://u:{password}@h/d",
                "ROUNDS_DATABASE_PASSWORD_FILE": "/nope",
            },
            "/nope",
        ),
        ({"FINDINGS_CLIENT_SECRET_FILE": "/nope"}, "FINDINGS_CLIENT_SECRET_FILE"),
    ],
)
def test_entrypoint_refuses_missing_secrets(env: dict[str, str], message: str) -> None:
    with pytest.raises(entrypoint.EntrypointError, match=message):
        entrypoint.resolve(env)


def test_entrypoint_execs_the_command(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("pw")
    result = subprocess.run(
        [
            sys.executable,
            str(DEPLOY / "entrypoint.py"),
            sys.executable,
            "-c",
            "import os; print(os.environ['GATEWAY_DATABASE_URL'])",
        ],
        env={
            "GATEWAY_DATABASE_URL": "postgresql+asyncpg://g:{password}@h/d",
            "GATEWAY_DATABASE_PASSWORD_FILE": str(tmp_path / "pw"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgresql+asyncpg://g:pw@h/d"
