"""The coverage planner: places the remaining targets of a term into the groups of the coming
rounds. Pure computation over what the repository loaded (no database access here).

Rules, in order of importance:
1. avoidance: a group never gets a target that one of its members must avoid;
2. capacity: a group takes at most its capacity minus what it already has in that round;
3. a township and its villages (a cluster) go to one group when any group can take them whole;
   a cluster too big for any group is split over as few groups as possible;
4. balance: among the groups that can take a cluster, the one with most room left, earlier
   rounds first on a tie; high-risk clusters and big clusters are placed first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

RISK_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class Candidate:
    id: uuid.UUID
    name: str
    township_id: uuid.UUID | None
    risk_class: str


@dataclass
class Slot:
    round_id: uuid.UUID
    round_number: int
    group_id: uuid.UUID
    room: int
    placed: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Plan:
    slots: list[Slot]
    unplaced: list[tuple[uuid.UUID, str]]
    clusters: dict[uuid.UUID, str]


def clusters_of(targets: list[Candidate]) -> list[list[Candidate]]:
    by_township: dict[uuid.UUID, list[Candidate]] = {}
    singles: list[list[Candidate]] = []
    for t in targets:
        if t.township_id is None:
            singles.append([t])
        else:
            by_township.setdefault(t.township_id, []).append(t)
    clusters = [*by_township.values(), *singles]
    clusters.sort(key=lambda c: (min(RISK_ORDER.get(t.risk_class, 1) for t in c), -len(c)))
    return clusters


def plan(
    targets: list[Candidate], slots: list[Slot], blocked: set[tuple[uuid.UUID, uuid.UUID]]
) -> Plan:
    """`blocked` holds (group_id, target_id) pairs excluded by avoidance."""
    unplaced: list[tuple[uuid.UUID, str]] = []
    cluster_names: dict[uuid.UUID, str] = {}
    order = sorted(slots, key=lambda s: s.round_number)
    for cluster in clusters_of(targets):
        label = cluster[0].name if len(cluster) == 1 else f"{len(cluster)} units of a township"
        for t in cluster:
            cluster_names[t.id] = label
        whole = [
            s for s in order
            if s.room >= len(cluster) and not any((s.group_id, t.id) in blocked for t in cluster)
        ]  # fmt: skip
        if whole:
            best = max(whole, key=lambda s: (s.room, -s.round_number))
            best.placed += [t.id for t in cluster]
            best.room -= len(cluster)
            continue
        # Split: each time the group that can take most of what is left, so the cluster
        # spans as few groups as possible.
        remaining = list(cluster)
        while remaining:
            roomiest: Slot | None = None
            take: list[Candidate] = []
            for s in order:
                if s.room <= 0:
                    continue
                fits = [t for t in remaining if (s.group_id, t.id) not in blocked][: s.room]
                if len(fits) > len(take):
                    roomiest, take = s, fits
            if roomiest is None:
                free = any(s.room > 0 for s in order)
                reason = (
                    "avoidance: every group with room has a member who must avoid this unit"
                    if free
                    else "capacity: no group has room left in the chosen rounds"
                )
                unplaced += [(t.id, reason) for t in remaining]
                break
            roomiest.placed += [t.id for t in take]
            roomiest.room -= len(take)
            taken = {t.id for t in take}
            remaining = [t for t in remaining if t.id not in taken]
    return Plan(slots=order, unplaced=unplaced, clusters=cluster_names)
