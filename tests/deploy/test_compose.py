"""deploy/compose.yaml against the Compose Specification schema (vendored, offline), and what it
must say beyond the schema: only the gateway published, migrations before the apps, secrets as
files, healthchecks, hardened containers."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.helpers import APPS, DEPLOY, PORTS, known_setting

SCHEMA = json.loads((DEPLOY / "schemas" / "compose-spec.json").read_text("utf-8"))
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))


def errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft201909Validator(SCHEMA)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_matches_the_specification() -> None:
    assert errors(COMPOSE) == []


def test_schema_check_catches_mistakes() -> None:
    bad = copy.deepcopy(COMPOSE)
    bad["services"]["gateway"]["healthcheck"]["intervall"] = "10s"
    bad["services"]["rounds"]["depends_on"]["migrate"]["condition"] = "service_done"
    assert len(errors(bad)) >= 2


def test_services_present() -> None:
    assert set(COMPOSE["services"]) == {"postgres", "migrate", *APPS}


def test_only_the_gateway_is_published() -> None:
    published = {name for name, s in COMPOSE["services"].items() if s.get("ports")}
    assert published == {"gateway"}
    (port,) = COMPOSE["services"]["gateway"]["ports"]
    assert port.endswith(":8000")
    assert COMPOSE["networks"]["backend"]["internal"] is True
    for name, service in COMPOSE["services"].items():
        if name != "gateway":
            assert service["networks"] == ["backend"], name


def test_images_are_pinned() -> None:
    postgres = COMPOSE["services"]["postgres"]["image"]
    assert re.fullmatch(r"postgres:\d+\.\d+-[a-z]+(@sha256:[0-9a-f]{64})?", postgres), postgres
    for name in ("migrate", *APPS):
        service = COMPOSE["services"][name]
        assert not service["image"].endswith(":latest")
        assert service["build"]["target"] == name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_start_order() -> None:
    services = COMPOSE["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for app in APPS:
        deps = services[app]["depends_on"]
        assert deps["migrate"] == {"condition": "service_completed_successfully"}
    for name in ("rounds", "findings", "referrals"):
        assert services["gateway"]["depends_on"][name] == {"condition": "service_healthy"}


@pytest.mark.parametrize("app", APPS)
def test_app_containers(app: str) -> None:
    s = COMPOSE["services"][app]
    assert s["read_only"] is True
    assert s["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in s["security_opt"]
    assert not s["user"].startswith("0")
    assert "/tmp" in s["tmpfs"]  # noqa: S108 - a tmpfs
    test = s["healthcheck"]["test"]
    assert f"http://127.0.0.1:{PORTS[app]}/readyz" in " ".join(test)
    assert s["deploy"]["resources"]["limits"]["memory"]
    for var, value in s["environment"].items():
        assert known_setting(app, var), f"{app}: {var} is not a setting"
        if var.endswith("DATABASE_URL"):
            assert "{password}" in value
            assert value.startswith("postgresql+asyncpg://")
    assert s["environment"][f"{app.upper()}_ENVIRONMENT"] == "production"


def test_secrets_are_files_and_documented() -> None:
    readme = (DEPLOY / "secrets" / "README.md").read_text("utf-8")
    for name, secret in COMPOSE["secrets"].items():
        assert secret["file"] == f"./secrets/{name}"
        assert name in readme, f"deploy/secrets/README.md does not say how to make {name}"
    gitignore = (DEPLOY / ".gitignore").read_text("utf-8").split()
    assert "secrets/*" in gitignore
    used = set()
    for service in COMPOSE["services"].values():
        for s in service.get("secrets", []):
            used.add(s if isinstance(s, str) else s["source"])
    assert used == set(COMPOSE["secrets"])


def test_secret_file_paths_match_the_environment() -> None:
    """Each *_FILE variable names a secret mounted into that container."""
    for name, service in COMPOSE["services"].items():
        mounted = set()
        for s in service.get("secrets", []):
            if isinstance(s, str):
                mounted.add(f"/run/secrets/{s}")
            else:
                mounted.add(s.get("target", f"/run/secrets/{s['source']}"))
        for var, value in service.get("environment", {}).items():
            if var.endswith("_FILE"):
                assert value in mounted, f"{name}: {var}={value}"


def test_migrate_finds_what_ops_migrate_reads() -> None:
    """`python -m ops migrate` reads $INSPECTION_DATA_DIR/secrets/db-<app>.password and
    client-<service>.secret: all must be mounted there."""
    s = COMPOSE["services"]["migrate"]
    data_dir = s["environment"]["INSPECTION_DATA_DIR"]
    targets = {x["target"] for x in s["secrets"] if isinstance(x, dict)}
    for app in APPS:
        assert f"{data_dir}/secrets/db-{app}.password" in targets
    for name in ("rounds", "findings", "referrals"):
        assert f"{data_dir}/secrets/client-{name}.secret" in targets
    assert data_dir in s["tmpfs"], "ops writes a throwaway key under the data dir"
