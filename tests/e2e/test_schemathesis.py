"""Schemathesis against the gateway's merged OpenAPI: every operation, through the real gateway,
with generated requests valid and invalid, as the office and as a group member with no group.

Every check Schemathesis has runs (`--checks all`): no 5xx, status codes, content types, headers
and bodies as documented, invalid data rejected, valid data accepted, missing or bad credentials
refused, undocumented methods answered 405 with a true `Allow`. As the office all four phases
run (the schema's examples, the edges of every constraint, random fuzzing, stateful sequences
that feed one answer's ids into the next request). Examples are bounded and generation is
deterministic, so a run is repeatable and fits CI.

"Valid data accepted" is told, per operation and with the reason, which refusals of schema-valid
requests are right: a stale or missing If-Match (412, 428), a cursor the API never issued, the
422 problems an operation documents itself (an id that names nothing, a rule across fields or
against today), and the few rules checked during validation that a schema cannot state
(VALID_BUT_REFUSED). Nothing is excluded and no check is turned off.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.identity.enums import Role
from ops.stack import Database
from tests.e2e.conftest import System, eventually, fresh_login, place_a_finding

# a run takes minutes, not the suite's default 3 (see RUN_TIMEOUT)
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

MAX_EXAMPLES = 5  # per operation, in the fuzzing and stateful phases (the others are bounded)
RUN_TIMEOUT = 1200  # seconds for one run; as the office it takes about 5 min on 2 cores

# Statuses Schemathesis takes as "valid data accepted" (its default), to which the rules below add
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

# What Schemathesis takes as "invalid data rejected" (its default), plus 412 and 413 (see config)
NEGATIVE = ["400", "401", "403", "404", "405", "406", "409", "412", "413", "415", "422", "428"]
NEGATIVE += ["429", "5xx"]

# Operations left out, each with why. Everything else is tested.
EXCLUDED: dict[str, str] = {}

# Rules the schema cannot state, enforced where the request is validated (so answered with the
# generic /problems/validation-failed, not a documented problem of their own):
# operationId -> statuses a schema-valid request may still get, and why.
VALID_BUT_REFUSED: dict[str, tuple[list[str], str]] = {
    "accounts-create_user": (
        ["422"],
        "the password policy: not common, not the username, three kinds of characters or 16+",
    ),
    "audit-verify_chain": (["422"], "`seq` and `hash` of a held head go together"),
    "crosschecks-create_rule": (["422"], "a spec's joins, conditions and key name its own roles"),
    "crosschecks-update_rule": (["422"], "a spec's joins, conditions and key name its own roles"),
    "datasets-upload_dataset": (["415"], "the file must be CSV text or an XLSX workbook"),
    "evidence-upload_evidence": (
        ["415"],
        "the file's type is recognised from its content (JPEG, PNG, PDF, MP4, M4A, AMR, Office)",
    ),
    "exports-start_export": (["422"], "exactly one of `round_id` and `term_id`"),
    "terms-create_term": (["422"], "`ends_on` must be after `starts_on`"),
}
VALIDATION_FAILED = "/problems/validation-failed"


def login(system: System, database: Database, role: Role) -> str:
    return fresh_login(system, database, role, prefix="st")


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        op
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "responses" in op
    ]


def _domain_rules(op: dict[str, Any]) -> list[str]:
    """The problem types other than request validation an operation documents for 422."""
    documented = op["responses"].get("422", {}).get("description", "")
    return [
        t for t in re.findall(r"type (/problems/[a-z-]+)", documented) if t != VALIDATION_FAILED
    ]


def rules(doc: dict[str, Any]) -> list[tuple[str, list[str], str]]:
    """(operationId, extra statuses for valid data, reason) for every operation that needs one."""
    out = []
    for op in _operations(doc):
        params = {(p["in"], p["name"].lower()) for p in op.get("parameters", [])}
        extra: list[str] = []
        reasons: list[str] = []
        if ("header", "if-match") in params:
            extra += ["412", "428"]
            reasons.append(
                "a generated If-Match is not the current ETag (412), or is left out (428)"
            )
        if ("query", "cursor") in params:
            extra.append("422")
            reasons.append("a cursor is opaque: only one the API issued is accepted")
        documented = _domain_rules(op)
        if documented:
            # the operation documents 422 problems of its own: rules about other records (an
            # id that names nothing), across fields or against today, that a schema cannot state
            extra.append("422")
            reasons.append("documented 422: " + ", ".join(documented))
        if op["operationId"] in VALID_BUT_REFUSED:
            statuses, why = VALID_BUT_REFUSED[op["operationId"]]
            extra += statuses
            reasons.append(why)
        if extra:
            out.append((op["operationId"], sorted(set(extra)), "; ".join(reasons)))
    return out


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def config(doc: dict[str, Any]) -> str:
    lines = ["[generation]", f"max-examples = {MAX_EXAMPLES}", "deterministic = true", ""]
    # Schema-violating requests must be refused; besides Schemathesis's defaults these refusals
    # are right: 413, the body-size limit answers before the body is parsed; 412, a stale
    # If-Match is refused before the body is read (hit confirmation). Nothing is changed by either.
    negative = ", ".join(toml_string(s) for s in NEGATIVE)
    lines += [
        "[checks.negative_data_rejection]",
        f"expected-statuses = [{negative}]",
        "",
    ]
    for operation_id, reason in EXCLUDED.items():
        lines += [
            f"# {reason}",
            "[[operations]]",
            f"include-operation-id = {toml_string(operation_id)}",
            "enabled = false",
            "",
        ]
    for operation_id, extra, reason in rules(doc):
        statuses = ", ".join(toml_string(s) for s in POSITIVE + extra)
        lines += [
            f"# {reason}",
            "[[operations]]",
            f"include-operation-id = {toml_string(operation_id)}",
            f"checks.positive_data_acceptance.expected-statuses = [{statuses}]",
            "",
        ]
    return "\n".join(lines)


def seed(system: System, token: str) -> None:
    """A round with a group, an assignment and a finding, so that lists answer with real ids
    and Schemathesis (which reuses ids from responses) gets past "not found" to the rules."""
    with httpx.Client(
        base_url=system.gateway, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as gw:
        placed = place_a_finding(gw, "赤壁市某镇某村")
        body = {
            "assignment_id": placed.assignment_id,
            "category_id": placed.category_id,
            "title": "村级财务支出不规范",
            "facts": "2018年度有三笔支出无审批单据",
            "source": "documents",
            "discovered_on": "2018-07-02",
            "money_involved": "3200.00",
        }
        # the first finding of a fresh stack may take the findings service longer than the
        # tests' short upstream timeout: retried under one Idempotency-Key, it is made once
        key = {"Idempotency-Key": uuid.uuid4().hex}
        finding = eventually(
            lambda: answered(gw.post("/api/v1/findings", headers=key, json=body)), timeout=60
        )
        assert finding.status_code == 201, finding.text


def answered(resp: httpx.Response) -> httpx.Response:
    """Not a timeout, nor the 409 of a retry while the first try is still running."""
    assert resp.status_code not in (409, 502, 503, 504), resp.text
    return resp


def run(
    system: System, token: str, workdir: Path, *options: str, extra_config: str = ""
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str], float]:
    doc: dict[str, Any] = httpx.get(f"{system.gateway}/openapi.json", timeout=30).json()
    assert "x-unavailable-services" not in doc, "a service is down"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "schemathesis.toml").write_text(extra_config + config(doc))
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(workdir / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{system.gateway}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(workdir / "report"),
        *options,
    ]
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    return doc, done, time.monotonic() - started


def assert_clean(doc: dict[str, Any], done: subprocess.CompletedProcess[str]) -> None:
    """Exit 0 (no failure, no error), every operation but the excluded ones tested."""
    out = done.stdout + done.stderr
    failures = out.find("= FAILURES =")
    assert done.returncode == 0, out[failures:] if failures >= 0 else out[-20000:]
    tested = re.search(r"Tested: +(\d+)", out)
    assert tested is not None, out[-3000:]
    assert int(tested.group(1)) == len(_operations(doc)) - len(EXCLUDED), out[-3000:]


def test_the_api_as_the_office(system: System, database: Database, tmp_path: Path) -> None:
    token = login(system, database, Role.office)
    seed(system, token)
    doc, done, seconds = run(system, token, tmp_path)
    print(f"schemathesis as the office: {seconds:.0f} s")
    assert_clean(doc, done)


def test_the_api_as_a_member_of_no_group(
    system: System, database: Database, tmp_path: Path
) -> None:
    """Refusals are documented problems too, and an empty scope breaks nothing. The generated
    requests are mostly refused before their data is looked at, so the coverage phase (the
    edges of every constraint, which the office's run covers) and the stateful one (which needs
    records this user may create) are left out here."""
    token = login(system, database, Role.group_member)
    doc, done, seconds = run(system, token, tmp_path, "--phases", "examples,fuzzing")
    print(f"schemathesis as a group member: {seconds:.0f} s")
    assert_clean(doc, done)


def test_the_administration_api_as_the_administrator(
    system: System, database: Database, tmp_path: Path
) -> None:
    """Accounts and API keys, which the office's run sees refused: as an administrator. The
    other tests' accounts share this database, so the run must not reach them (it did, taking
    ids from the lists in the stateful phase, and disabled the session's office account): every
    `user_id` and `client_id` is an account and a key made for the run, and the stateful phase
    is left out."""
    token = login(system, database, Role.admin)
    headers = {"Authorization": f"Bearer {token}"}
    user = httpx.post(
        f"{system.gateway}/api/v1/admin/users",
        headers=headers,
        json={"username": f"st-target-{uuid.uuid4().hex[:6]}", "display_name": "模糊测试对象",
              "password": "correct horse battery staple", "roles": ["group_member"]},
    )  # fmt: skip
    assert user.status_code == 201, user.text
    key = httpx.post(
        f"{system.gateway}/api/v1/admin/api-clients",
        headers=headers,
        json={"client_id": f"st-target-{uuid.uuid4().hex[:6]}", "description": "模糊测试对象",
              "roles": ["platform"], "scopes": ["lead:read"],
              "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
    )  # fmt: skip
    assert key.status_code == 201, key.text
    targets = (
        "[parameters]\n"
        f"user_id = {toml_string(user.json()['id'])}\n"
        f"client_id = {toml_string(key.json()['client_id'])}\n\n"
    )
    doc, done, seconds = run(
        system, token, tmp_path,
        "--include-path-regex", "^/api/v1/admin/", "--phases", "examples,coverage,fuzzing",
        extra_config=targets,
    )  # fmt: skip
    print(f"schemathesis as the administrator: {seconds:.0f} s")
    out = done.stdout + done.stderr
    failures = out.find("= FAILURES =")
    assert done.returncode == 0, out[failures:] if failures >= 0 else out[-20000:]
    tested = re.search(r"Tested: +(\d+)", out)
    assert tested is not None, out[-3000:]
    admin = {p: item for p, item in doc["paths"].items() if p.startswith("/api/v1/admin/")}
    assert int(tested.group(1)) == len(_operations({"paths": admin})) > 0, out[-3000:]
    reached = httpx.get(f"{system.gateway}/api/v1/admin/users/{user.json()['id']}", headers=headers)
    # it reached the account made for it (a change or a new password), not only 404s
    assert reached.json()["updated_at"] != reached.json()["created_at"], reached.text
    # the session's office account is untouched
    me = httpx.get(f"{system.gateway}/api/v1/auth/me", headers=system.auth)
    assert me.status_code == 200, me.text
