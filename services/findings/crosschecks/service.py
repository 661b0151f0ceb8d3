"""Business rules of data cross-checks: who may use which dataset, how a run is put together
from the rules chosen, the triage of hits, and deleting a dataset version. Flushes, never
commits.

Deleting a dataset version (the office only; `If-Match` required, as for every DELETE here)
removes its rows and the version in the request's transaction, set-based (one DELETE each). It
is refused (409 `dataset-in-use`) while a run over the version is queued or running: a run reads
the rows until it ends, and a run being created locks the versions it names (FOR SHARE), so the
two cannot cross. An import never uses an existing version: a version appears only when its
import commits, whole. What becomes of the hits that name the version's rows:

- a **confirmed** hit became a finding, whose evidence file (the matched rows, as XLSX) and
  facts were written when it was confirmed, so the finding keeps its provenance whatever happens
  to the dataset; the hit is kept too, and so is a **dismissed** one (who decided what, and why):
  the matched rows of the deleted version are copied into the hit (`rows[].row`, with the
  dataset's name, version number and kind), so the hit reads as before;
- an **open** hit is removed (and no longer counted in its run and rule): it asks for a decision
  on data the office no longer holds. If the same data comes back in a later upload, a new run
  finds it again, and a match dismissed before stays dismissed (dismissals are kept by the
  rule, the match and the content of the rows, not by version).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from openpyxl import Workbook  # at start-up: a first confirmation should not wait for it
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.findings.crosschecks.access import CrosscheckScope
from services.findings.crosschecks.enums import DatasetKind, HitStatus, JobKind, JobState
from services.findings.crosschecks.errors import (
    DatasetInUse,
    DatasetNotFound,
    HitDecided,
    HitNotFound,
    JobNotFound,
    NotCrosscheckUser,
    OfficeOnly,
    RuleExists,
    RuleInvalid,
    RuleNotFound,
    RunNotFound,
)
from services.findings.crosschecks.jobs import HOST
from services.findings.crosschecks.models import (
    CrosscheckDismissal,
    CrosscheckHit,
    CrosscheckJob,
    CrosscheckRule,
    CrosscheckRun,
    CrosscheckRunRule,
    DatasetRow,
    DatasetVersion,
)
from services.findings.crosschecks.repository import CrosscheckRepository
from services.findings.crosschecks.rules import BUILTIN, Role
from services.findings.crosschecks.schemas import (
    HitConfirm,
    HitRead,
    HitRowRead,
    JobRead,
    RoleRead,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    RunCreate,
    RunRead,
    RunRuleRead,
)
from services.findings.crosschecks.spec import RuleSpec
from services.findings.enums import EvidenceType, FindingSource
from services.findings.errors import ReferenceInvalid
from services.findings.evidence.repository import EvidenceRepository
from services.findings.evidence.storage import EvidenceStore
from services.findings.models import Evidence
from services.findings.schemas import SHANGHAI, FindingCreate, FindingRead, PersonIn
from services.findings.service import FindingService

# roles whose rows are the money paid (a finding's money involved is their sum)
PAID_ROLES = ("recipients", "payments", "claims")
# A dataset version never changes once recorded: its ETag is that of its first and only state.
VERSION_REVISION = 1


def _invalid(field: str, message: str) -> RuleInvalid:
    return RuleInvalid(message, errors=[{"field": field, "message": message, "code": "invalid"}])


class CrosscheckService:
    def __init__(self, session: AsyncSession, scope: CrosscheckScope) -> None:
        self.session = session
        self.scope = scope
        self.repo = CrosscheckRepository(session)

    # jobs -------------------------------------------------------------------------------------

    async def job(self, job_id: uuid.UUID) -> CrosscheckJob:
        job = await self.repo.job(job_id, self.scope)
        if job is None:
            raise JobNotFound(f"job {job_id} not found")
        return job

    async def new_job(
        self, job_id: uuid.UUID, kind: JobKind, round_id: uuid.UUID | None, payload: dict[str, Any]
    ) -> CrosscheckJob:
        job = CrosscheckJob(
            id=job_id,
            kind=kind.value,
            state=JobState.queued.value,
            round_id=round_id,
            payload=payload,
            host=HOST,
            created_by=self.scope.subject,
        )
        await self.repo.add(job)
        return job

    # datasets ---------------------------------------------------------------------------------

    async def version(self, version_id: uuid.UUID) -> DatasetVersion:
        found = await self.repo.version(version_id, self.scope)
        if found is None:
            raise DatasetNotFound(f"dataset version {version_id} not found")
        return found

    async def delete_version(self, version_id: uuid.UUID, if_match: str | None) -> dict[str, int]:
        """See the module's docstring. Returns what was removed and kept."""
        from services.common.concurrency import check_if_match

        if not self.scope.office:
            raise OfficeOnly("only the office deletes dataset versions")
        version = await self.repo.version(version_id, self.scope, lock=True)
        if version is None:
            raise DatasetNotFound(f"dataset version {version_id} not found")
        check_if_match(if_match, VERSION_REVISION, required=True)
        runs = await self.repo.unfinished_runs_using(version.id)
        if runs:
            raise DatasetInUse(
                f"数据集版本正被 {len(runs)} 个尚未完成的比对运行使用，请待其完成后再删除 "
                f"{len(runs)} run(s) not finished use this dataset version; delete it once "
                "they have finished",
                runs=[str(r) for r in runs],
            )
        kept = await self.repo.keep_matched_rows(version)
        removed = await self.repo.remove_open_hits(version.id)
        rows = await self.repo.remove_version(version)
        return {"rows": rows, "open_hits_removed": removed, "decided_hits_kept": kept}

    def may_upload(self, round_id: uuid.UUID | None) -> None:
        if round_id is None and not self.scope.office:
            raise NotCrosscheckUser("only the office keeps datasets outside a round")
        if not self.scope.leads_round(round_id):
            raise NotCrosscheckUser("only the office or a leader of the round's groups")

    # rules ------------------------------------------------------------------------------------

    async def rules(self) -> list[RuleRead]:
        builtin = [
            RuleRead(
                code=r.code, version=r.version, title=r.title, description=r.description,
                builtin=True, roles=_roles(r.roles), params=r.params.model_json_schema(),
            )
            for r in BUILTIN.values()
        ]  # fmt: skip
        return builtin + [_user_rule(r) for r in await self.repo.user_rules()]

    async def rule(self, code: str) -> RuleRead:
        if code in BUILTIN:
            return next(r for r in await self.rules() if r.code == code)
        found = await self.repo.user_rule(code)
        if found is None:
            raise RuleNotFound(f"no rule {code}")
        return _user_rule(found)

    def _office_only(self) -> None:
        if not self.scope.office:
            raise NotCrosscheckUser("only the office writes rules")

    async def create_rule(self, body: RuleCreate) -> RuleRead:
        self._office_only()
        if body.code in BUILTIN or await self.repo.user_rule(body.code) is not None:
            raise RuleExists(f"a rule {body.code} exists")
        row = CrosscheckRule(
            code=body.code,
            title=body.title,
            description=body.description,
            spec=body.spec.model_dump(mode="json"),
            created_by=self.scope.subject,
        )
        await self.repo.add(row)
        return _user_rule(row)

    async def update_rule(self, code: str, body: RuleUpdate) -> RuleRead:
        self._office_only()
        row = await self.repo.user_rule(code)
        if row is None:
            raise RuleNotFound(f"no user-defined rule {code}")
        if body.title is not None:
            row.title = body.title
        if body.description is not None:
            row.description = body.description
        if body.spec is not None:
            row.spec = body.spec.model_dump(mode="json")
        row.updated_at = func.now()  # bumps the version too
        await self.session.flush()
        await self.session.refresh(row)
        return _user_rule(row)

    # runs -------------------------------------------------------------------------------------

    async def create_run(self, body: RunCreate, job_id: uuid.UUID) -> CrosscheckRun:
        """Each rule's roles bound to the chosen versions (explicitly, or every chosen version
        of a kind the role accepts); every version must be the round's (or the office's own,
        for the office)."""
        if not self.scope.leads_round(body.round_id):
            raise NotCrosscheckUser("only the office or a leader of the round's groups")
        versions = await self.repo.versions_by_id(body.dataset_version_ids, self.scope, share=True)
        for n, vid in enumerate(body.dataset_version_ids):
            v = versions.get(vid)
            if v is None:
                raise _invalid(f"dataset_version_ids.{n}", f"dataset version {vid} not found")
            if v.round_id is not None and v.round_id != body.round_id:
                raise _invalid(f"dataset_version_ids.{n}", f"{vid} belongs to another round")
        planned: list[dict[str, Any]] = []
        for n, choice in enumerate(body.rules):
            planned.append(await self._plan(n, choice.code, choice.params, choice.datasets,
                                            body.dataset_version_ids, versions))  # fmt: skip
        # the run's id goes into the job's payload from the start: a worker never sees a run job
        # without it
        run_id = uuid.uuid4()
        job = await self.new_job(job_id, JobKind.run, body.round_id, {"run_id": str(run_id)})
        run = CrosscheckRun(
            id=run_id,
            round_id=body.round_id,
            title=body.title,
            dataset_version_ids=[str(v) for v in body.dataset_version_ids],
            job_id=job.id,
            created_by=self.scope.subject,
        )
        await self.repo.add(run)
        for ordinal, plan in enumerate(planned):
            self.session.add(CrosscheckRunRule(run_id=run.id, ordinal=ordinal, **plan))
        await self.session.flush()
        return run

    async def _plan(
        self,
        n: int,
        code: str,
        params: dict[str, Any],
        explicit: dict[str, list[uuid.UUID]] | None,
        chosen: list[uuid.UUID],
        versions: dict[uuid.UUID, DatasetVersion],
    ) -> dict[str, Any]:
        where = f"rules.{n}"
        spec: RuleSpec | None = None
        if code in BUILTIN:
            rule = BUILTIN[code]
            try:
                checked = rule.params.model_validate(params).model_dump(mode="json")
            except ValueError as exc:
                raise _invalid(f"{where}.params", f"{code}: {exc}") from None
            roles, version, title = rule.roles, rule.version, rule.title
        else:
            row = await self.repo.user_rule(code)
            if row is None:
                raise _invalid(f"{where}.code", f"no rule {code}")
            if params:
                raise _invalid(f"{where}.params", "a user-defined rule takes no parameters")
            spec = RuleSpec.model_validate(row.spec)
            roles, version, title, checked = spec.role_list(), row.version, row.title, {}
        bound: dict[str, list[str]] = {}
        for role in roles:
            if explicit is not None and role.name in explicit:
                ids = explicit[role.name]
                for vid in ids:
                    if vid not in chosen:
                        raise _invalid(f"{where}.datasets.{role.name}",
                                       f"{vid} is not among dataset_version_ids")  # fmt: skip
                    if DatasetKind.of(versions[vid].kind) not in role.kinds:
                        raise _invalid(f"{where}.datasets.{role.name}",
                                       f"{vid} is not of a kind {role.name} accepts")  # fmt: skip
            else:
                ids = [v for v in chosen if DatasetKind.of(versions[v].kind) in role.kinds]
            if not ids:
                kinds = "、".join(k.label for k in role.kinds)
                raise _invalid(f"{where}.datasets.{role.name}",
                               f"{code}: no dataset for {role.label} ({kinds})")  # fmt: skip
            bound[role.name] = [str(v) for v in ids]
        return {
            "rule_code": code,
            "rule_version": version,
            "title": title,
            "params": checked,
            "datasets": bound,
            "spec": spec.model_dump(mode="json") if spec else None,
        }

    async def run(self, run_id: uuid.UUID) -> CrosscheckRun:
        found = await self.repo.run(run_id, self.scope)
        if found is None:
            raise RunNotFound(f"run {run_id} not found")
        return found

    async def run_reads(self, runs: Sequence[CrosscheckRun]) -> list[RunRead]:
        rules = await self.repo.run_rules([r.id for r in runs])
        jobs = await self.repo.jobs_by_id([r.job_id for r in runs])
        return [
            RunRead(
                id=r.id, round_id=r.round_id, title=r.title,
                dataset_version_ids=[uuid.UUID(v) for v in r.dataset_version_ids],
                hit_count=r.hit_count,
                rules=[RunRuleRead.model_validate(x) for x in rules[r.id]],
                job=JobRead.model_validate(jobs[r.job_id]),
                created_by=r.created_by, created_at=r.created_at,
            )
            for r in runs
        ]  # fmt: skip

    # hits -------------------------------------------------------------------------------------

    async def hit(
        self, hit_id: uuid.UUID, *, lock: bool = False
    ) -> tuple[CrosscheckHit, CrosscheckRun]:
        found = await self.repo.hit(hit_id, self.scope, lock=lock)
        if found is None:
            raise HitNotFound(f"hit {hit_id} not found")
        return found

    async def hit_reads(self, hits: Sequence[CrosscheckHit]) -> list[HitRead]:
        """With the matched rows, read in one query."""
        refs = [(uuid.UUID(x["version_id"]), int(x["line"])) for h in hits for x in h.rows]
        rows = await self.repo.rows_by_ref(refs)
        versions = await self.repo.versions_of({v for v, _ in refs})
        rules = await self.repo.run_rules_by_id({h.run_rule_id for h in hits})
        out = []
        for h in hits:
            rule = rules[h.run_rule_id]
            out.append(
                HitRead(
                    id=h.id, run_id=h.run_id, rule_code=h.rule_code,
                    rule_version=rule.rule_version, rule_title=rule.title, params=rule.params,
                    subject=h.subject, match_key=h.match_key, content_hash=h.content_hash,
                    status=HitStatus.of(h.status), reason=h.reason, finding_id=h.finding_id,
                    decided_by=h.decided_by, decided_at=h.decided_at,
                    rows=[_row(x, rows, versions) for x in _distinct(h.rows)],
                    version=h.version, created_at=h.created_at,
                )
            )  # fmt: skip
        return out

    def _decidable(self, hit: CrosscheckHit, if_match: str | None) -> None:
        from services.common.concurrency import check_if_match

        check_if_match(if_match, hit.version)
        if hit.status != HitStatus.open.value:
            raise HitDecided(f"the hit is already {hit.status}")

    async def dismiss(self, hit_id: uuid.UUID, reason: str, if_match: str | None) -> CrosscheckHit:
        """The same match on the same data stays dismissed in later runs."""
        hit, _ = await self.hit(hit_id, lock=True)
        self._decidable(hit, if_match)
        hit.status = HitStatus.dismissed.value
        hit.reason = reason
        hit.decided_by = self.scope.subject
        hit.decided_at = func.now()
        # The same match may be open in two runs made before either was triaged: the first
        # dismissal stays the register's record, the later hit keeps its own reason.
        await self.session.execute(
            pg_insert(CrosscheckDismissal)
            .values(
                rule_code=hit.rule_code,
                match_key=hit.match_key,
                content_hash=hit.content_hash,
                hit_id=hit.id,
                reason=reason,
                dismissed_by=self.scope.subject,
            )
            .on_conflict_do_nothing()
        )
        await self.session.flush()
        await self.session.refresh(hit)
        return hit

    async def confirm(
        self,
        hit_id: uuid.UUID,
        body: HitConfirm,
        findings: FindingService,
        store: EvidenceStore,
        if_match: str | None,
    ) -> tuple[CrosscheckHit, FindingRead]:
        """A finding (source 大数据比对) on the caller's assignment of the run's round, with the
        hit's rows as its evidence (an XLSX file, kept like any evidence)."""
        hit, run = await self.hit(hit_id, lock=True)
        self._decidable(hit, if_match)
        [read] = await self.hit_reads([hit])
        paid = [r for r in read.rows if r.role in PAID_ROLES and r.amount is not None]
        # the persons: those of the rule's first role (the recipients, the claims ...)
        people: dict[str, PersonIn] = {}
        for r in read.rows:
            if r.role == read.rows[0].role and r.name and len(people) < 100:
                person = PersonIn(name=r.name[:100], id_number=r.id_number)
                people.setdefault(r.id_number or r.name, person)
        finding = await findings.create(
            FindingCreate(
                assignment_id=body.assignment_id,
                category_id=body.category_id,
                title=(body.title or f"大数据比对：{read.rule_title}（{hit.subject}）")[:300],
                facts=body.facts or _facts(read),
                money_involved=sum((r.amount for r in paid if r.amount), Decimal("0.00")),
                source=FindingSource.data_check,
                severity=body.severity,
                discovered_on=body.discovered_on or datetime.now(SHANGHAI).date(),
                persons=list(people.values()),
            )
        )
        if finding.round_id != run.round_id:
            message = "the assignment is not of the run's round"
            error = {"field": "assignment_id", "message": message, "code": "other_round"}
            raise ReferenceInvalid(message, errors=[error])
        await self._attach(read, finding, store)
        hit.status = HitStatus.confirmed.value
        hit.finding_id = finding.id
        hit.decided_by = self.scope.subject
        hit.decided_at = func.now()
        await self.session.flush()
        await self.session.refresh(hit)
        return hit, finding

    async def _attach(self, read: HitRead, finding: FindingRead, store: EvidenceStore) -> None:
        evidence_id = uuid.uuid4()
        tmp = store.tmp_dir / f"{evidence_id.hex}.part"
        size, digest = await anyio.to_thread.run_sync(_write_xlsx, read, tmp)
        key = store.key_for(evidence_id)
        try:
            await anyio.to_thread.run_sync(store.backend.put, tmp, key, digest)
        finally:
            await anyio.to_thread.run_sync(lambda: tmp.unlink(missing_ok=True))
        store.remove_unless_committed(self.session, key)
        await EvidenceRepository(self.session).add(
            Evidence(
                id=evidence_id,
                finding_id=finding.id,
                filename=f"大数据比对疑点-{read.rule_code}-{str(read.id)[:8]}.xlsx",
                content_type=EvidenceType.xlsx.value,
                size=size,
                sha256=digest,
                storage_key=key,
                uploaded_by=self.scope.subject,
            )
        )


HEADERS = ["角色", "数据集", "版本", "行号", "姓名", "身份证号", "关联人身份证号", "单位/村",
           "银行账号", "金额（元）", "日期", "第二日期", "项目", "关系"]  # fmt: skip


def _write_xlsx(read: HitRead, path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("疑点")
    sheet.append([f"规则 {read.rule_code} v{read.rule_version}：{read.rule_title}"])
    sheet.append([f"参数 {read.params}；疑点 {read.subject}；比对运行 {read.run_id}"])
    sheet.append(HEADERS)
    for r in read.rows:
        sheet.append([
            r.role, r.dataset, r.version, r.line, r.name, r.id_number, r.related_id, r.org,
            r.account, str(r.amount) if r.amount is not None else None,
            r.date1.isoformat() if r.date1 else None, r.date2.isoformat() if r.date2 else None,
            r.programme, r.relation,
        ])  # fmt: skip
    book.save(path)
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def _facts(read: HitRead) -> str:
    rule = f"规则“{read.rule_title}”，{read.rule_code} 第{read.rule_version}版"
    lines = [f"大数据比对（{rule}）发现：{read.subject}。"]
    for r in read.rows[:50]:
        parts = [f"《{r.dataset}》第{r.version}版第{r.line}行", r.name or "", r.id_number or ""]
        if r.amount is not None:
            parts.append(f"金额{r.amount}元")
        if r.date1:
            parts.append(r.date1.isoformat())
        for value in (r.programme, r.org, r.relation):
            if value:
                parts.append(value)
        lines.append("，".join(p for p in parts if p) + "；")
    if len(read.rows) > 50:
        lines.append(f"等共{len(read.rows)}行，详见证据文件。")
    return "\n".join(lines)[:20000]


def _distinct(refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The matched rows once each, by role (in the rule's order), dataset version and line."""
    roles = list(dict.fromkeys(r["role"] for r in refs))
    unique = {(r["role"], r["version_id"], int(r["line"])): r for r in refs}
    return [unique[k] for k in sorted(unique, key=lambda k: (roles.index(k[0]), k[1], k[2]))]


def _row(
    ref: dict[str, Any],
    rows: dict[tuple[uuid.UUID, int], DatasetRow],
    versions: dict[uuid.UUID, DatasetVersion],
) -> HitRowRead:
    """A matched row as stored, or as kept in the hit when its version was deleted."""
    vid, line = uuid.UUID(ref["version_id"]), int(ref["line"])
    row, version = rows.get((vid, line)), versions.get(vid)
    values: dict[str, Any] = (
        {f: getattr(row, f) for f in ROW_FIELDS} if row else {f: (ref.get("row") or {}).get(f)
                                                              for f in ROW_FIELDS}
    )  # fmt: skip
    return HitRowRead(
        role=ref["role"],
        dataset_version_id=vid,
        dataset=version.dataset if version else ref.get("dataset", ""),
        version=version.version if version else ref.get("version", 0),
        kind=DatasetKind.of(version.kind if version else ref.get("kind", "other")),
        line=line,
        **values,
    )


ROW_FIELDS = ("id_number", "name", "related_id", "org", "account", "amount", "date1", "date2",
              "programme", "relation", "extra")  # fmt: skip


def _roles(roles: Sequence[Role]) -> list[RoleRead]:
    return [RoleRead(name=r.name, label=r.label, kinds=list(r.kinds)) for r in roles]


def _user_rule(row: CrosscheckRule) -> RuleRead:
    spec = RuleSpec.model_validate(row.spec)
    return RuleRead(
        code=row.code, version=row.version, title=row.title, description=row.description,
        builtin=False, roles=_roles(spec.role_list()), params={}, spec=spec,
    )  # fmt: skip
