"""Shared by the deployment tests: where things are, and loading them."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from gateway.settings import GatewaySettings
from services.findings.settings import FindingsSettings
from services.referrals.settings import ReferralsSettings
from services.rounds.settings import RoundsSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAYS = sorted(p for p in (K8S / "overlays").iterdir() if p.is_dir())
APPS = ("gateway", "rounds", "findings", "referrals")
SERVICES = ("rounds", "findings", "referrals")
PORTS = {"gateway": 8000, "rounds": 8001, "findings": 8002, "referrals": 8003}
SETTINGS = {
    "gateway": GatewaySettings,
    "rounds": RoundsSettings,
    "findings": FindingsSettings,
    "referrals": ReferralsSettings,
}
# variables the image's entrypoint (deploy/entrypoint.py) reads in addition to the settings
ENTRYPOINT_VARS = ("DATABASE_PASSWORD_FILE", "CLIENT_SECRET_FILE")


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d is not None]


def base_documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(BASE.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out.extend(
            (f"{path.name}:{d['kind']}/{d['metadata']['name']}", d) for d in yaml_documents(path)
        )
    return out


def kustomization(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    return data


def kubectl() -> str | None:
    return shutil.which("kubectl")


@cache
def render(directory: Path) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize` (kustomize built into kubectl; offline)."""
    exe = kubectl()
    assert exe is not None
    out = subprocess.run(
        [exe, "kustomize", str(directory)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d is not None)


def known_setting(app: str, var: str) -> bool:
    """Whether an environment variable is one the app (or the entrypoint) reads."""
    prefix = app.upper() + "_"
    if not var.startswith(prefix):
        return False
    name = var[len(prefix) :]
    return name.lower() in SETTINGS[app].model_fields or name in ENTRYPOINT_VARS
