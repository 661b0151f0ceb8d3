"""The Kubernetes manifests (deploy/k8s) against the Kubernetes JSON schemas, offline.

Every document of the base is validated as it is (strict: unknown fields are errors). Overlay
patches are partial objects: they are validated with the strategic-merge directives taken out
and missing required fields allowed. Where `kubectl` is installed, each overlay is also rendered
with its built-in kustomize and every rendered object validated and checked like the base.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import major_minor, schema_contents
from referencing import Registry, Resource

from tests.deploy.helpers import (
    APPS,
    BASE,
    DEPLOY,
    K8S,
    OVERLAYS,
    PORTS,
    SERVICES,
    base_documents,
    known_setting,
    kubectl,
    kustomization,
    render,
    yaml_documents,
)

# the oldest Kubernetes the manifests are for (lifecycle.preStop.sleep) and the newest bundled
K8S_VERSIONS = ("1.30", major_minor(kubernetes_validate.latest_version()))
BASE_DOCS = base_documents()
needs_kubectl = pytest.mark.skipif(kubectl() is None, reason="kubectl (kustomize) not installed")


def validate_strict(doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def partial_errors(doc: dict[str, Any], version: str) -> list[str]:
    """Schema errors of a patch, other than missing required fields."""
    schema_dir = f"v{version}.0-local-strict"
    api = doc["apiVersion"]
    group_version = api.split("/")[0].split(".")[0] + "-" + api.split("/")[1] if "/" in api else api
    schema = schema_contents(
        f"kubernetes-json-schema/{schema_dir}/{doc['kind'].lower()}-{group_version}.json", version
    )
    definitions = schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry: Registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return [
        f"{e.json_path}: {e.message}"
        for e in validator.iter_errors(_strip_directives(doc))
        if e.validator != "required"
    ]


def overlay_patches() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for overlay in OVERLAYS:
        for patch in kustomization(overlay).get("patches", []):
            path = overlay / patch["path"]
            out.extend(
                (f"{overlay.name}/{patch['path']}:{d['kind']}/{d['metadata']['name']}", d)
                for d in yaml_documents(path)
            )
    return out


PATCHES = overlay_patches()


# --- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("name", "doc"), BASE_DOCS, ids=[n for n, _ in BASE_DOCS])
def test_base_document_validates(name: str, doc: dict[str, Any], version: str) -> None:
    validate_strict(doc, version)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("name", "doc"), PATCHES, ids=[n for n, _ in PATCHES])
def test_overlay_patch_validates(name: str, doc: dict[str, Any], version: str) -> None:
    assert partial_errors(doc, version) == []


def test_validation_catches_mistakes() -> None:
    """The checks above would fail on a typo or a wrong type."""
    deployment = copy.deepcopy(next(d for _, d in BASE_DOCS if d["kind"] == "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["pathh"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_strict(deployment, K8S_VERSIONS[0])
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "x"},
        "spec": {"minReplicas": "two", "$patch": "replace"},
    }
    assert partial_errors(hpa, K8S_VERSIONS[0])


def test_kustomizations_reference_existing_files() -> None:
    for directory in [BASE, *OVERLAYS]:
        k = kustomization(directory)
        for resource in k.get("resources", []):
            assert (directory / resource).exists(), f"{directory.name}: {resource}"
        for patch in k.get("patches", []):
            assert (directory / patch["path"]).is_file(), f"{directory.name}: {patch['path']}"
    assert {o.name for o in OVERLAYS} >= {"shared-db", "db-per-service", "production"}


# --- what every deployment must have -------------------------------------------------------


def by_kind(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def generator_name(name: str) -> str:
    """A generated ConfigMap's name without the content hash kustomize appends."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def configmaps(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """ConfigMaps by their generator name (kustomize appends a content hash)."""
    return {
        generator_name(d["metadata"]["name"]): d["data"] for d in docs if d["kind"] == "ConfigMap"
    }


def check_app_objects(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    policies = by_kind(docs, "NetworkPolicy")
    assert set(deployments) == set(APPS)
    for app in APPS:
        d = deployments[app]
        assert "replicas" not in d["spec"], "replicas belong to the HorizontalPodAutoscaler"
        selector = d["spec"]["selector"]["matchLabels"]
        assert selector == {"app.kubernetes.io/name": app}
        pod = d["spec"]["template"]["spec"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert labels["inspection/database-client"] == "true"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        (c,) = pod["containers"]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["ports"][0]["containerPort"] == PORTS[app]
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) == {"cpu", "memory"}, f"{app} {kind}"
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        image = c["image"]
        assert ":" in image.rsplit("/", 1)[-1] or "@sha256:" in image, image
        assert not image.endswith(":latest")
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert "/tmp" in mounts, "a writable /tmp beside the read-only root"  # noqa: S108
        # the Service and the autoscaling and disruption objects of the app
        assert services[app]["spec"]["selector"] == selector
        assert services[app]["spec"]["ports"][0]["port"] == PORTS[app]
        hpa = hpas[app]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": app,
        }
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert pdbs[app]["spec"]["selector"]["matchLabels"] == selector
        assert f"{app}-ingress" in policies
    # migrations: a Job, not restarted in place, hook for GitOps tools
    (job,) = by_kind(docs, "Job").values()
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    job_pod = job["spec"]["template"]
    assert job_pod["spec"]["restartPolicy"] == "Never"
    assert job_pod["metadata"]["labels"]["inspection/database-client"] == "true"
    assert job_pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def check_network_policies(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
    policies = by_kind(docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny
    dns = policies["allow-dns-egress"]["spec"]
    assert dns["podSelector"] == {}
    assert {p["port"] for p in dns["egress"][0]["ports"]} == {53}
    for name in SERVICES:
        spec = policies[f"{name}-ingress"]["spec"]
        (rule,) = spec["ingress"]
        assert rule["from"] == [
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}
        ]
        assert rule["ports"] == [{"protocol": "TCP", "port": PORTS[name]}]
    # only the gateway is reachable from outside the namespace
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer or "ipBlock" in peer:
                    assert name == "gateway-ingress", name
    # PostgreSQL only from the pods labelled as its clients (the apps and the Job)
    for name, policy in policies.items():
        for rule in policy["spec"].get("egress", []):
            if any(p.get("port") == 5432 for p in rule.get("ports", [])):
                assert policy["spec"]["podSelector"] == {
                    "matchLabels": {"inspection/database-client": "true"}
                }, name


def check_no_secret_values(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
    assert not [d for d in docs if d["kind"] == "Secret"], "Secrets are created by the operator"
    for data in configmaps(docs).values():
        for key, value in data.items():
            if "DATABASE_URL" in key:
                assert "{password}" in value, f"{key}: the password comes from a mounted Secret"


def check_config(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
    """Every variable set is one the app reads (a typo would be silently ignored)."""
    cms = configmaps(docs)
    for app in APPS:
        for var in cms[f"inspection-{app}"]:
            assert known_setting(app, var), f"inspection-{app}: {var}"
        (c,) = by_kind(docs, "Deployment")[app]["spec"]["template"]["spec"]["containers"]
        for env in c["env"]:
            assert known_setting(app, env["name"]), f"{app}: {env['name']}"
        refs = [generator_name(e["configMapRef"]["name"]) for e in c["envFrom"]]
        assert refs == [f"inspection-{app}"]


def referenced_secrets(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> set[str]:
    names = set()
    for d in docs:
        if d["kind"] not in ("Deployment", "Job"):
            continue
        for volume in d["spec"]["template"]["spec"].get("volumes", []):
            if "secret" in volume:
                names.add(volume["secret"]["secretName"])
            for source in volume.get("projected", {}).get("sources", []):
                if "secret" in source:
                    names.add(source["secret"]["name"])
    return names


def test_base_apps() -> None:
    docs = [d for _, d in BASE_DOCS]
    check_app_objects(docs)
    check_network_policies(docs)
    check_no_secret_values(docs)


def test_base_configuration_is_known_settings() -> None:
    docs = [d for _, d in BASE_DOCS]
    literals = {
        g["name"]: dict(item.split("=", 1) for item in g["literals"])
        for g in kustomization(BASE)["configMapGenerator"]
    }
    docs += [
        {"kind": "ConfigMap", "metadata": {"name": n}, "data": data} for n, data in literals.items()
    ]
    check_config(docs)
    check_no_secret_values(docs)


def test_referenced_secrets_are_documented() -> None:
    readme = (DEPLOY / "README.md").read_text("utf-8")
    names = referenced_secrets([d for _, d in BASE_DOCS])
    assert names >= {"inspection-gateway-signing", "inspection-db-admin"}
    for name in names:
        assert f"`{name}`" in readme, f"deploy/README.md does not say how to create {name}"


def test_no_secret_files_in_k8s() -> None:
    for path in K8S.rglob("*"):
        assert path.suffix not in (".pem", ".key", ".password", ".secret"), path


# --- each overlay, rendered --------------------------------------------------------------


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS, ids=[o.name for o in OVERLAYS])
def test_overlay_renders_and_validates(overlay: Any) -> None:
    docs = render(overlay)
    for doc in docs:
        for version in K8S_VERSIONS:
            validate_strict(doc, version)
        assert doc["metadata"].get("namespace") == "inspection", doc["metadata"]["name"]
    check_app_objects(docs)
    check_network_policies(docs)
    check_no_secret_values(docs)
    check_config(docs)


def db_hosts(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    cms = configmaps(docs)
    return {
        app: str(urlsplit(cms[f"inspection-{app}"][f"{app.upper()}_DATABASE_URL"]).hostname)
        for app in APPS
    }


@needs_kubectl
def test_shared_db_overlay_points_every_app_at_one_server() -> None:
    docs = render(K8S / "overlays" / "shared-db")
    hosts = db_hosts(docs)
    assert len(set(hosts.values())) == 1
    admin = configmaps(docs)["inspection-migrate"]["DATABASE_URL"]
    assert urlsplit(admin).hostname == hosts["gateway"]
    for app in APPS:  # the roles and database that `python -m ops migrate` creates
        url = urlsplit(configmaps(docs)[f"inspection-{app}"][f"{app.upper()}_DATABASE_URL"])
        assert (url.username, url.path) == (f"{app}_svc", "/inspection")
    (job,) = by_kind(docs, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "python",
        "-m",
        "ops",
        "migrate",
    ]
    assert "inspection-db-admin" in referenced_secrets(docs)


@needs_kubectl
def test_db_per_service_overlay_points_each_app_at_its_own_server() -> None:
    docs = render(K8S / "overlays" / "db-per-service")
    hosts = db_hosts(docs)
    assert len(set(hosts.values())) == len(APPS)
    migrate = configmaps(docs)["inspection-migrate"]
    assert "DATABASE_URL" not in migrate
    for app in APPS:
        key = f"{app.upper()}_DATABASE_URL"
        assert migrate[key] == configmaps(docs)[f"inspection-{app}"][key]
    (job,) = by_kind(docs, "Job").values()
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["python", "/app/deploy/migrate_apps.py"]
    env = {e["name"]: e["value"] for e in c["env"]}
    for app in APPS:
        assert env[f"{app.upper()}_DATABASE_PASSWORD_FILE"].endswith(f"db-{app}.password")
    assert "inspection-db-admin" not in referenced_secrets(docs)


@needs_kubectl
def test_production_overlay_pins_images() -> None:
    docs = render(K8S / "overlays" / "production")
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                assert not c["image"].endswith(":latest")
    assert by_kind(docs, "HorizontalPodAutoscaler")["gateway"]["spec"]["minReplicas"] >= 3
