"""Business rules of findings: references checked against rounds, the status machine, who may
do what, and the offline batch. Flushes, never commits."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.concurrency import check_if_match
from services.common.errors import FieldError, Forbidden, field_errors
from services.findings import events
from services.findings.access import Scope
from services.findings.clients import AssignmentRef, CategoryRef, RoundsClient
from services.findings.enums import BatchOutcome, FindingSource, FindingStatus, Severity
from services.findings.errors import (
    FindingNotEditable,
    FindingNotFound,
    NotAnExpert,
    NotGroupLeader,
    NotOffice,
    ReferenceInvalid,
    ReopeningNeedsReason,
    TransitionNotAllowed,
)
from services.findings.evidence.repository import EvidenceRepository
from services.findings.idnumber import mask
from services.findings.models import Consultation, Finding, FindingPerson, FindingTransition
from services.findings.repository import FindingRepository, ItemKeyRepository
from services.findings.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    BatchResult,
    FindingCreate,
    FindingRead,
    FindingUpdate,
    GeoPoint,
    PersonIn,
    PersonRead,
    TransitionCreate,
)

S = FindingStatus
NEXT: dict[FindingStatus, tuple[FindingStatus, ...]] = {
    S.draft: (S.confirmed,),
    S.confirmed: (S.handed_over, S.closed),
    S.handed_over: (S.closed, S.confirmed),
    S.closed: (S.confirmed,),
}
REOPENABLE = (S.handed_over, S.closed)
EXPERT_GROUP_KIND = "expert_guidance"  # 业务指导组, as rounds names the kind of group
_BATCH_ITEM: TypeAdapter[BatchItem] = TypeAdapter(BatchItem)


def _error(field: str, message: str, code: str = "reference_not_found") -> dict[str, str]:
    return {"field": field, "message": message, "code": code}


def column_length(table: Any, column: str) -> int:
    length = getattr(table.c[column].type, "length", None)
    assert isinstance(length, int), f"{column} has no length"
    return length


# What rounds answers is copied into columns of a fixed width: a name too long is cut (it is a
# display copy); a code too long cannot be cut without changing what it identifies (recurrences
# match on it), so the finding is refused, on its own, naming `category_id`.
TARGET_NAME_MAX = column_length(Finding.__table__, "target_name")
CATEGORY_CODE_MAX = column_length(Finding.__table__, "category_code")
CATEGORY_NAME_MAX = column_length(Finding.__table__, "category_name")


def _category_unusable(category: CategoryRef) -> dict[str, str] | None:
    if len(category.code) <= CATEGORY_CODE_MAX:
        return None
    return _error(
        "category_id",
        f"the code of category {category.id} in rounds is longer than {CATEGORY_CODE_MAX} "
        "characters",
        "reference_invalid",
    )


def _person_rows(finding_id: uuid.UUID, persons: Sequence[PersonIn]) -> list[dict[str, Any]]:
    return [
        {"finding_id": finding_id, "ordinal": n, **p.model_dump()} for n, p in enumerate(persons)
    ]


def to_read(
    finding: Finding,
    persons: Sequence[FindingPerson],
    scope: Scope,
    visible: Collection[uuid.UUID] = (),
) -> FindingRead:
    """`visible`: those of the findings it may repeat (`recurrence_of`) the caller may see; the
    id of another is not shown, only that the finding is a recurrence."""
    unmasked = scope.leads(finding.group_id)
    location = (
        GeoPoint(latitude=finding.latitude, longitude=finding.longitude)
        if finding.latitude is not None and finding.longitude is not None
        else None
    )
    return FindingRead(
        id=finding.id,
        assignment_id=finding.assignment_id,
        round_id=finding.round_id,
        group_id=finding.group_id,
        target_id=finding.target_id,
        target_name=finding.target_name,
        category_id=finding.category_id,
        category_code=finding.category_code,
        category_name=finding.category_name,
        title=finding.title,
        facts=finding.facts,
        money_involved=finding.money_involved,
        source=FindingSource.of(finding.source),
        severity=Severity.of(finding.severity),
        discovered_on=finding.discovered_on,
        location=location,
        status=S.of(finding.status),
        recurrent=finding.recurrence_of is not None,
        recurrence_of=finding.recurrence_of if finding.recurrence_of in visible else None,
        persons=[
            PersonRead(
                name=p.name,
                position=p.position,
                rank=p.rank,
                id_number=p.id_number if unmasked or p.id_number is None else mask(p.id_number),
            )
            for p in persons
        ],
        created_by=finding.created_by,
        version=finding.version,
        created_at=finding.created_at,
        updated_at=finding.updated_at,
    )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a new finding copies from rounds."""

    assignment: AssignmentRef
    category: CategoryRef
    target_name: str


class FindingService:
    def __init__(self, session: AsyncSession, scope: Scope, rounds: RoundsClient) -> None:
        self.session = session
        self.scope = scope
        self.rounds = rounds
        self.repo = FindingRepository(session)

    # references -------------------------------------------------------------------------------

    async def resolve(
        self, items: Sequence[FindingCreate]
    ) -> list[Snapshot | list[dict[str, str]]]:
        """Per item, its snapshot from rounds or the field errors naming what does not exist.
        An assignment of a group the caller does not work in is treated as absent."""
        assignments = await self.rounds.assignments(i.assignment_id for i in items)
        usable = {
            k: a
            for k, a in assignments.items()
            if a is not None and self.scope.works_in(a.group_id)
        }
        categories = await self.rounds.categories_of(a.round_id for a in usable.values())
        targets = await self.rounds.targets(a.target_id for a in usable.values())
        out: list[Snapshot | list[dict[str, str]]] = []
        for item in items:
            a = usable.get(item.assignment_id)
            if a is None:
                out.append([_error("assignment_id", f"assignment {item.assignment_id} not found")])
                continue
            cats = categories.get(a.round_id) or {}
            category = cats.get(item.category_id)
            target = targets.get(a.target_id)
            unusable = None if category is None else _category_unusable(category)
            if category is not None and unusable is None and target is not None:
                out.append(Snapshot(a, category, target.name))
                continue
            errors = []
            if category is None:
                errors.append(
                    _error("category_id", f"category {item.category_id} is not in the round")
                )
            if unusable is not None:
                errors.append(unusable)
            if target is None:
                errors.append(_error("assignment_id", f"the assignment's target {a.target_id} "
                                     "no longer exists"))  # fmt: skip
            out.append(errors)
        return out

    def _row(self, item: FindingCreate, snap: Snapshot) -> dict[str, Any]:
        a = snap.assignment
        return {
            "id": uuid.uuid4(),
            "assignment_id": a.id,
            "round_id": a.round_id,
            "group_id": a.group_id,
            "target_id": a.target_id,
            "target_name": snap.target_name[:TARGET_NAME_MAX],
            "category_id": snap.category.id,
            "category_code": snap.category.code,
            "category_name": snap.category.name[:CATEGORY_NAME_MAX],
            "title": item.title,
            "facts": item.facts,
            "money_involved": item.money_involved,
            "source": item.source.value,
            "severity": item.severity.value,
            "discovered_on": item.discovered_on,
            "latitude": item.location.latitude if item.location else None,
            "longitude": item.location.longitude if item.location else None,
            "status": S.draft.value,
            "created_by": self.scope.subject,
        }

    async def _insert(
        self, items: Sequence[FindingCreate], snaps: Sequence[Snapshot]
    ) -> list[FindingRead]:
        """Set-based: one INSERT for the findings, one for their persons, one for history."""
        rows = [self._row(i, s) for i, s in zip(items, snaps, strict=True)]
        findings = await self.repo.insert_many(rows)
        persons = [
            p for i, r in zip(items, rows, strict=True) for p in _person_rows(r["id"], i.persons)
        ]
        await self.repo.insert_persons(persons)
        await self.repo.record_transitions(
            [
                {"finding_id": r["id"], "from_status": None, "to_status": S.draft.value,
                 "reason": "", "by": self.scope.subject}
                for r in rows
            ]
        )  # fmt: skip
        by_finding = await self.repo.persons_of([f.id for f in findings])
        return [to_read(f, by_finding.get(f.id, []), self.scope) for f in findings]

    # one finding --------------------------------------------------------------------------------

    async def create(self, data: FindingCreate) -> FindingRead:
        [resolved] = await self.resolve([data])
        if isinstance(resolved, list):
            raise ReferenceInvalid("; ".join(e["message"] for e in resolved), errors=resolved)
        [read] = await self._insert([data], [resolved])
        return read

    async def get(self, finding_id: uuid.UUID) -> Finding:
        finding = await self.repo.get_visible(finding_id, self.scope)
        if finding is None:
            raise FindingNotFound(f"finding {finding_id} not found")
        return finding

    async def read(self, finding: Finding) -> FindingRead:
        [read] = await self.read_many([finding])
        return read

    async def read_many(self, findings: Sequence[Finding]) -> list[FindingRead]:
        persons = await self.repo.persons_of([f.id for f in findings])
        visible = await self.repo.visible_ids(
            [f.recurrence_of for f in findings if f.recurrence_of is not None], self.scope
        )
        return [to_read(f, persons.get(f.id, []), self.scope, visible) for f in findings]

    def _editable(self, finding: Finding, if_match: str | None) -> None:
        check_if_match(if_match, finding.version, required=True)
        if not self.scope.works_in(finding.group_id):
            raise Forbidden("only the finding's group or the office may change it")
        if finding.status != S.draft.value:
            raise FindingNotEditable(f"the finding is {finding.status}, not a draft")

    async def update(
        self, finding_id: uuid.UUID, data: FindingUpdate, if_match: str | None
    ) -> FindingRead:
        finding = await self.get(finding_id)
        self._editable(finding, if_match)
        changes = data.model_dump(exclude_unset=True)
        for field in ("title", "facts", "money_involved", "source", "severity", "discovered_on"):
            if changes.get(field) is not None:
                value = getattr(data, field)
                setattr(finding, field, getattr(value, "value", value))
        if "location" in changes:
            point = data.location
            finding.latitude = point.latitude if point else None
            finding.longitude = point.longitude if point else None
        if data.category_id is not None and data.category_id != finding.category_id:
            cats = await self.rounds.categories(finding.round_id) or {}
            category = cats.get(data.category_id)
            if category is None:
                raise ReferenceInvalid(
                    f"category {data.category_id} is not in the round",
                    errors=[_error("category_id", f"category {data.category_id} not in round")],
                )
            unusable = _category_unusable(category)
            if unusable is not None:
                raise ReferenceInvalid(unusable["message"], errors=[unusable])
            finding.category_id = category.id
            finding.category_code = category.code
            finding.category_name = category.name[:CATEGORY_NAME_MAX]
        if data.persons is not None:
            await self.repo.replace_persons(finding.id, _person_rows(finding.id, data.persons))
        finding.updated_at = func.now()  # bumps the version too
        await self.session.flush()
        await self.session.refresh(finding)
        return await self.read(finding)

    async def delete(self, finding_id: uuid.UUID, if_match: str | None) -> list[str]:
        """Deletes the draft and (by cascade) its evidence rows; returns the storage keys of
        its evidence files, for the caller to remove once this commits."""
        finding = await self.get(finding_id)
        self._editable(finding, if_match)
        # Locked first: an upload adding evidence meanwhile either commits before the keys are
        # read (its file is then listed) or fails on the deleted finding (and removes its file).
        await self.repo.lock(finding.id)
        files = await EvidenceRepository(self.session).storage_keys(finding.id)
        await self.session.delete(finding)
        await self.session.flush()
        await self.repo.record_deletion(finding)
        return files

    async def transition(
        self, finding_id: uuid.UUID, data: TransitionCreate, if_match: str | None
    ) -> FindingRead:
        finding = await self.get(finding_id)
        check_if_match(if_match, finding.version)
        current, to = S.of(finding.status), data.to
        allowed = NEXT[current]
        if to not in allowed:
            raise TransitionNotAllowed(
                f"a {current.value} finding can move to: {', '.join(a.value for a in allowed)}",
                current=current.value,
                allowed=[a.value for a in allowed],
            )
        reopening = to is S.confirmed and current in REOPENABLE
        if to is S.confirmed and not reopening:
            if not self.scope.leads(finding.group_id):
                raise NotGroupLeader("only the group's leader or deputy, or the office, confirms")
            finding.recurrence_of = await self.repo.earlier_occurrence(finding)
        elif not (self.scope.office or self.scope.principal.has_role("service")):
            raise NotOffice(f"only the office moves a finding to {to.value}")
        if reopening and not data.reason:
            raise ReopeningNeedsReason(
                f"a {current.value} finding reopens only with a reason",
                errors=[_error("reason", "a reason is required to reopen", "missing")],
            )
        finding.status = to.value
        finding.updated_at = func.now()
        self.session.add(
            FindingTransition(
                finding_id=finding.id,
                from_status=current.value,
                to_status=to.value,
                reason=data.reason,
                by=self.scope.subject,
            )
        )
        await self.session.flush()
        await self.session.refresh(finding)
        if to is S.confirmed and not reopening:
            await events.confirmed(self.session, finding)
        elif to is S.handed_over:
            await events.handed_over(
                self.session, [(finding.id, finding.round_id, finding.target_id)], data.reason
            )
        return await self.read(finding)

    async def history(self, finding_id: uuid.UUID) -> Sequence[FindingTransition]:
        await self.get(finding_id)
        return await self.repo.transitions(finding_id)

    # consultations ------------------------------------------------------------------------------

    async def consult(self, finding_id: uuid.UUID, expert_id: uuid.UUID) -> Consultation:
        """Consulting lets the expert read the finding, so only an expert of the finding's round
        (a member of one of its expert guidance groups, asked of rounds now, not from a cache)
        can be consulted. Adding one already consulted returns the existing consultation."""
        finding = await self.get(finding_id)
        if not self.scope.leads(finding.group_id):
            raise NotGroupLeader("only the group's leader or deputy, or the office, adds experts")
        memberships = await self.rounds.memberships(expert_id)
        if not any(
            m.round_id == finding.round_id and m.group_kind == EXPERT_GROUP_KIND
            for m in memberships
        ):
            message = f"user {expert_id} is not in an expert guidance group of the finding's round"
            raise NotAnExpert(
                message, errors=[_error("expert_id", message, "not_an_expert_of_the_round")]
            )
        return await self.repo.add_consultation(
            finding_id=finding.id, expert_id=str(expert_id), added_by=self.scope.subject
        )

    async def consultations(self, finding_id: uuid.UUID) -> Sequence[Consultation]:
        await self.get(finding_id)
        return await self.repo.consultations(finding_id)

    async def end_consultation(self, finding_id: uuid.UUID, expert_id: uuid.UUID) -> None:
        finding = await self.get(finding_id)
        if not self.scope.leads(finding.group_id):
            raise NotGroupLeader(
                "only the group's leader or deputy, or the office, removes experts"
            )
        if not await self.repo.remove_consultation(finding.id, str(expert_id)):
            raise FindingNotFound(f"expert {expert_id} is not consulted on finding {finding_id}")

    # the offline queue ------------------------------------------------------------------------

    async def batch(self, request: BatchRequest) -> BatchResponse:
        """Each item on its own: validated, keyed by its `idempotency_key` (per caller), created
        with the others in set-based statements; a retried batch replays created items."""
        keys = ItemKeyRepository(self.session)
        await keys.lock(self.scope.subject)
        results: list[BatchResult | None] = [None] * len(request.items)
        firsts: dict[str, tuple[int, BatchItem, str]] = {}  # key -> its first item in the batch
        repeats: list[tuple[int, str]] = []  # later items repeating a key with the same body
        for n, raw in enumerate(request.items):
            key = raw.get("idempotency_key")
            try:
                item = _BATCH_ITEM.validate_python(raw)
            except ValidationError as exc:
                label = key if isinstance(key, str) else None
                results[n] = _rejected(n, label, field_errors(exc.errors()))
                continue
            fingerprint = _fingerprint(raw)
            first = firsts.get(item.idempotency_key)
            if first is None:
                firsts[item.idempotency_key] = (n, item, fingerprint)
            elif first[2] == fingerprint:
                repeats.append((n, item.idempotency_key))
            else:
                results[n] = _rejected(n, item.idempotency_key, [_reused()])

        stored = await keys.find(self.scope.subject, list(firsts))
        to_create: list[tuple[int, BatchItem, str]] = []
        for key, (n, item, fingerprint) in firsts.items():
            prior = stored.get(key)
            if prior is None:
                to_create.append((n, item, fingerprint))
            elif prior[0] != fingerprint:
                results[n] = _rejected(n, key, [_reused()])
            else:
                results[n] = _done(n, key, BatchOutcome.replayed,
                                   FindingRead.model_validate_json(prior[1]))  # fmt: skip

        resolved = await self.resolve([i for _, i, _ in to_create]) if to_create else []
        good: list[tuple[int, BatchItem, str, Snapshot]] = []
        for (n, item, fingerprint), snap in zip(to_create, resolved, strict=True):
            if isinstance(snap, list):
                results[n] = _rejected(n, item.idempotency_key, snap)
            else:
                good.append((n, item, fingerprint, snap))
        created = await self._insert([g[1] for g in good], [g[3] for g in good])
        await keys.store(
            self.scope.subject,
            [(g[1].idempotency_key, g[2], orjson.dumps(r.model_dump(mode="json")))
             for g, r in zip(good, created, strict=True)],
        )  # fmt: skip
        for (n, item, _, _), read in zip(good, created, strict=True):
            results[n] = _done(n, item.idempotency_key, BatchOutcome.created, read)
        for n, key in repeats:
            first_result = results[firsts[key][0]]
            assert first_result is not None
            replayed = first_result.outcome is not BatchOutcome.rejected
            results[n] = first_result.model_copy(
                update={"index": n, "outcome": BatchOutcome.replayed} if replayed else {"index": n}
            )
        final = [r for r in results if r is not None]
        return BatchResponse(
            created=sum(r.outcome is BatchOutcome.created for r in final),
            replayed=sum(r.outcome is BatchOutcome.replayed for r in final),
            rejected=sum(r.outcome is BatchOutcome.rejected for r in final),
            results=final,
        )


def _done(n: int, key: str, outcome: BatchOutcome, finding: FindingRead) -> BatchResult:
    return BatchResult(index=n, idempotency_key=key, outcome=outcome, status=201, finding=finding)


def _fingerprint(raw: dict[str, Any]) -> str:
    body = {k: v for k, v in raw.items() if k != "idempotency_key"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _reused() -> dict[str, str]:
    return _error(
        "idempotency_key", "this key was used for a different finding", "idempotency_key_reused"
    )


def _rejected(n: int, key: str | None, errors: list[dict[str, str]]) -> BatchResult:
    return BatchResult(
        index=n,
        idempotency_key=key,
        outcome=BatchOutcome.rejected,
        status=422,
        errors=[FieldError(**e) for e in errors],
    )
