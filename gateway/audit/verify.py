"""Recomputing the chain, and the signed head an outside party can hold.

`verify` walks the log from entry 1 to the head as it was when the walk began, in keyset
batches, recomputing each entry's hash from its stored fields (chain.py) and checking that
seq has no gap and that each entry links to the one before. It stops at the first broken entry
and names it: changed fields (the hash no longer matches), a rewritten hash (the next entry no
longer links to it), a deleted entry (its seq is missing). Deleting the newest entries leaves a
shorter chain that is consistent in itself: only a head held elsewhere shows that, so `held`
checks that an entry someone kept (seq and hash, from `head`) is still there, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from gateway.audit import repository
from gateway.audit.chain import GENESIS, Entry, link
from gateway.keys import ALGORITHM, Signer

HEAD_SUBJECT = "audit-head"


@dataclass(frozen=True, slots=True)
class Break:
    seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class Verification:
    checked: int  # entries recomputed
    head_seq: int  # the newest entry when the walk began (0: empty log)
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


async def verify(
    db: repository.Reader,
    *,
    held: tuple[int, bytes] | None = None,
    batch: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """`progress(done, total)` after each batch (the command's progress bar)."""
    top = await repository.head(db)
    through = top.seq if top is not None else 0
    if held is not None:
        seq, expected = held
        kept = await repository.entry(db, seq)
        if kept is None:
            return Verification(0, through, Break(seq, "the held entry is no longer in the log"))
        if kept.hash != expected:
            return Verification(0, through, Break(seq, "the held entry's hash has changed"))
    prev, expected_seq, checked = GENESIS, 1, 0
    async for rows in repository.batches(db, through, batch):
        for row in rows:
            broken = _check(row, expected_seq, prev)
            if broken is not None:
                return Verification(checked, through, broken)
            prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
        if progress is not None:
            progress(checked, through)
    if checked < through:  # the newest entries vanished while we read
        return Verification(checked, through, Break(expected_seq, "entry is missing"))
    return Verification(checked, through, None)


def _check(row: Any, seq: int, prev: bytes) -> Break | None:
    if row.seq != seq:
        return Break(seq, f"entry is missing (the next one is {row.seq})")
    if row.prev_hash != prev:
        return Break(seq, f"does not link to entry {seq - 1} (one of them was rewritten)")
    if link(prev, seq, Entry.from_row(row).digest()) != row.hash:
        return Break(seq, "its content does not match its hash (changed after it was written)")
    return None


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: bytes
    at: datetime | None


async def current_head(db: repository.Reader) -> Head:
    top = await repository.head(db)
    if top is None:
        return Head(0, GENESIS, None)
    return Head(top.seq, top.hash, top.at)


def signed_head(head: Head, signer: Signer) -> dict[str, Any]:
    """The head as a JWS (EdDSA, the gateway's key id) any outside party can verify with the
    gateway's JWKS or the public key given alongside; it carries no expiry: it is a statement
    that the chain had this head at that time."""
    claims = {
        "iss": signer.issuer,
        "sub": HEAD_SUBJECT,
        "iat": int(datetime.now(UTC).timestamp()),
        "seq": head.seq,
        "hash": head.hash.hex(),
        # RFC 3339 in UTC with "Z", as the API writes every time
        "at": head.at.astimezone(UTC).isoformat().replace("+00:00", "Z") if head.at else None,
    }
    token = jwt.encode(claims, signer.key, algorithm=ALGORITHM, headers={"kid": signer.kid})
    return {
        "seq": head.seq,
        "hash": head.hash.hex(),
        "at": claims["at"],
        "signed": token,
        "public_key": {k: v for k, v in signer.jwk.items() if k != "use"},
    }
