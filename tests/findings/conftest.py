"""The findings service in-process on the real PostgreSQL, with rounds played by a fake behind
an httpx.MockTransport (the gateway client is the real one)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from ops.stack import Database
from services.common.auth import KeySet
from services.common.gateway_client import GatewayClient
from services.findings.app import create_app
from services.findings.settings import FindingsSettings
from tests.conftest import MintToken, serve

MAX_EVIDENCE = 2 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.7\n" + b"0" * 9000


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


class CommitFailed(RuntimeError):
    pass


@contextmanager
def commits_fail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every commit inside fails before reaching the database (as a serialization failure or a
    lost connection at COMMIT would): the request's transaction is rolled back."""

    async def fail(self: AsyncSession) -> None:
        raise CommitFailed("the commit failed")

    with monkeypatch.context() as m:
        m.setattr(AsyncSession, "commit", fail)
        yield


async def failed(request: Any) -> None:
    """The request whose commit fails: answered 500 (or, in-process, the error propagates)."""
    try:
        resp = await request
    except CommitFailed:
        return
    assert resp.status_code == 500, resp.text


@dataclass
class FakeRounds:
    """What rounds would answer the findings service."""

    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    categories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(path)
        if path == "/api/v1/auth/token":
            return httpx.Response(200, json={"access_token": "svc", "expires_in": 3600})
        parts = path.removeprefix("/api/v1/").split("/")
        found: Any = None
        if parts[0] == "assignments":
            found = self.assignments.get(parts[1])
        elif parts[0] == "targets":
            found = self.targets.get(parts[1])
        elif parts[0] == "rounds" and parts[2:] == ["categories"]:
            cats = self.categories.get(parts[1])
            found = None if cats is None else {"items": cats, "next_cursor": None}
        elif parts == ["groups", "memberships"]:
            found = self.memberships.get(request.url.params["user_id"], [])
        return httpx.Response(404) if found is None else httpx.Response(200, json=found)

    def expert(self, round_id: str, user: str | None = None) -> str:
        """A user (new unless given) in an expert guidance group (业务指导组) of the round."""
        user = user or str(uuid.uuid4())
        self.join(user, str(uuid.uuid4()), round_id, "member", kind="expert_guidance")
        return user

    def target(self, name: str, parent: str | None = None) -> str:
        tid = str(uuid.uuid4())
        self.targets[tid] = {"id": tid, "name": name, "kind": "village", "parent_id": parent}
        return tid

    def round(self, *codes: str) -> tuple[str, list[str]]:
        rid = str(uuid.uuid4())
        cats = [{"id": str(uuid.uuid4()), "code": c, "name": f"类别{c}"} for c in codes]
        self.categories[rid] = cats
        return rid, [c["id"] for c in cats]

    def assign(self, round_id: str, group_id: str, target_id: str) -> str:
        aid = str(uuid.uuid4())
        self.assignments[aid] = {
            "id": aid,
            "round_id": round_id,
            "group_id": group_id,
            "target_id": target_id,
            "mode": "self",
        }
        return aid

    def role_of(self, user: str) -> list[str]:
        """The gateway role such a user has: leader, expert, member, or none (a stranger)."""
        found = self.memberships.get(user, [])
        if any(m["role"] in ("leader", "deputy_leader") for m in found):
            return ["group_leader"]
        if any(m["group_kind"] == "expert_guidance" for m in found):
            return ["expert"]
        return ["group_member"] if found else []

    def join(
        self, user: str, group_id: str, round_id: str, role: str, kind: str = "municipal"
    ) -> None:
        self.memberships.setdefault(user, []).append(
            {
                "group_id": group_id,
                "round_id": round_id,
                "group_kind": kind,
                "group_name": "组",
                "role": role,
                "starts_on": None,
                "ends_on": None,
            }
        )


@dataclass
class World:
    """Round R1: group A (leader, member) on village T1, group B (member) on village T2."""

    http: httpx.AsyncClient
    rounds: FakeRounds
    mint: MintToken
    evidence_dir: Path
    round_id: str = ""
    categories: list[str] = field(default_factory=list)
    group_a: str = ""
    group_b: str = ""
    township: str = ""
    t1: str = ""
    t2: str = ""
    asg_a: str = ""
    asg_b: str = ""
    leader_a: str = ""
    member_a: str = ""
    member_b: str = ""

    def as_(self, user: str | None = None, roles: list[str] | None = None) -> dict[str, str]:
        """A token of `user`; unless `roles` are given, with the gateway role their memberships
        make them (what each role may call at all is tests/e2e/test_policy.py; these tests are
        about the records a membership reaches)."""
        sub = user or str(uuid.uuid4())
        if roles is None:
            roles = self.rounds.role_of(sub)
        token = self.mint("findings", roles=roles, sub=sub)
        return {"Authorization": f"Bearer {token}"}

    @property
    def office(self) -> dict[str, str]:
        return self.as_(roles=["office"])

    def finding(self, **over: Any) -> dict[str, Any]:
        return {
            "assignment_id": self.asg_a,
            "category_id": self.categories[0],
            "title": "产业扶贫资金闲置",
            "facts": "资金闲置一年以上。",
            "money_involved": "0.10",
            "source": "data_check",
            "discovered_on": "2018-08-01",
            **over,
        }

    async def create(self, headers: dict[str, str] | None = None, **over: Any) -> dict[str, Any]:
        resp = await self.http.post(
            "/api/v1/findings",
            json=self.finding(**over),
            headers=headers or self.as_(self.member_a),
        )
        assert resp.status_code == 201, resp.text
        return resp.json()  # type: ignore[no-any-return]


@pytest.fixture
def findings_settings(database: Database, tmp_path: Path) -> FindingsSettings:
    """The settings `world` runs the app with (a test module may override this fixture)."""
    return FindingsSettings(
        database_url=database.urls["findings"],
        client_secret="test-secret",
        evidence_dir=tmp_path / "evidence",
        evidence_max_bytes=MAX_EVIDENCE,
    )


@pytest.fixture
async def world(
    findings_settings: FindingsSettings, test_keys: KeySet, mint: MintToken
) -> AsyncIterator[World]:
    settings = findings_settings
    rounds = FakeRounds()
    app = create_app(settings, keys=test_keys)
    async with serve(app) as http:
        app.state.gateway = GatewayClient(settings, transport=httpx.MockTransport(rounds.handle))
        w = World(http=http, rounds=rounds, mint=mint, evidence_dir=settings.evidence_dir)
        w.round_id, w.categories = rounds.round("3.1", "3.2")
        w.group_a, w.group_b = str(uuid.uuid4()), str(uuid.uuid4())
        w.township = rounds.target("车埠镇党委")
        w.t1 = rounds.target("车埠镇一村", w.township)
        w.t2 = rounds.target("车埠镇二村", w.township)
        w.asg_a = rounds.assign(w.round_id, w.group_a, w.t1)
        w.asg_b = rounds.assign(w.round_id, w.group_b, w.t2)
        w.leader_a, w.member_a, w.member_b = (str(uuid.uuid4()) for _ in range(3))
        rounds.join(w.leader_a, w.group_a, w.round_id, "leader")
        rounds.join(w.member_a, w.group_a, w.round_id, "member")
        rounds.join(w.member_b, w.group_b, w.round_id, "member")
        yield w
