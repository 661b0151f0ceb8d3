"""Access tokens refused before they expire: after logout, a replayed refresh token, a disabled
account, a new password or secret, new roles. On every gateway replica, at once, with no
database round trip on the request path.

The choice. An access token is a self-contained JWT (15 minutes) that the proxy checks with one
cached signature verification per token (tokens.py). Asking the database on each request would
put a round trip on the benchmarked proxy path; caching "not revoked" for a few seconds would
still leave a revoked token usable for those seconds. Instead each replica keeps, in memory,
the small set of what is revoked *now*, and the check is two dict lookups:
- every token of a person names its login: `sid`, the refresh-token family (one per password
  login, kept by every refresh). Logout and a replayed refresh token revoke the family: its
  `sid` goes into the set, and the family's refresh tokens are revoked in the same transaction;
- every token carries its subject's `ver` (users.token_version, api_clients.token_version).
  A trigger raises the version when an account is disabled or its password, secret or roles
  change, whoever changes it, and records the subject's new lowest valid version; a token with
  a lower `ver` is refused. One entry covers all of a subject's tokens, however many.
An entry matters only while a token issued before it can be alive: the access-token lifetime
plus leeway and a margin for clocks (`retention`). So the set holds the revocations of the last
quarter of an hour, not the history, and the table is trimmed to the same.

Keeping every replica current: the revocations are rows of `gateway.access_revocations`, whose
insert trigger sends NOTIFY (delivered on commit, so a rolled-back logout revokes nothing). Each
replica holds one connection of its own that LISTENs, and (re)loads the recent rows of the
table: on start, after every reconnect (what was announced while it was away is in the table),
on every notice, and every `revocation_reload_seconds` as a safety net, which is also how a
silently dead connection is noticed. A notice is only a wake-up call, its payload is not
believed: any role that may connect to the database may NOTIFY, but only the gateway's role
writes the table, so another service's role cannot make the gateway refuse (or, for as long as
it likes, lock out) anyone. Notices during a load wake the next one. Loads merge, never replace:
an entry is never undone (a revoked login stays revoked, a version only rises).

Failure modes. Until a replica's first load it cannot tell a revoked token from a good one: it
answers 503 for every access token and its /readyz says not ready. After that, if the database
is unreachable, the replica keeps its last set (a revocation needs the database too, so only
one written through another replica in that moment can be missed, and only until the reload
after the database comes back); its /readyz already reports the database unavailable. The
listener needs a session-level connection: through PgBouncer in transaction mode LISTEN does
not work, and revocations then reach the replica by the periodic reload only.

Cost: one database connection per replica and one small indexed query per revocation (and per
reload); on the request path, a membership test in a dict of recent revocations (a few hundred
entries at most) and an integer comparison, about 0.4 µs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg

from gateway.audit.writer import asyncpg_dsn
from services.common.errors import ServiceUnavailable

CHANNEL = "gateway_access_revocations"
# Tokens are accepted up to this long after `exp` (gateway/keys.py, Signer.verify).
LEEWAY_SECONDS = 5
# Clocks of the replicas and of PostgreSQL disagree a little; a refresh racing a revocation
# issues its token a moment after the revocation.
MARGIN_SECONDS = 60
FIRST_LOAD_WAIT_SECONDS = 5.0

LOAD = """
SELECT subject, session_id::text AS sid, min_version AS ver,
       extract(epoch FROM revoked_at)::float8 AS at
FROM gateway.access_revocations
WHERE revoked_at > now() - make_interval(secs => $1)
"""
TRIM = "DELETE FROM gateway.access_revocations WHERE revoked_at < now() - make_interval(secs => $1)"

log = logging.getLogger(__name__)


class RevocationsUnknown(ServiceUnavailable):
    title_en = "Cannot check access tokens yet: the revocation list is not loaded"
    title_zh = "撤销名单尚未载入，暂时无法校验访问令牌"


class Revocations:
    """The revoked logins (`sid`) and lowest valid versions (`ver`) of this replica."""

    def __init__(
        self, database_url: str, *, access_ttl_seconds: int, reload_seconds: float
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.retention = access_ttl_seconds + LEEWAY_SECONDS + MARGIN_SECONDS
        self.reload_seconds = reload_seconds
        self._sessions: dict[str, float] = {}  # sid -> when the entry may be forgotten
        self._versions: dict[str, tuple[int, float]] = {}  # subject -> (lowest valid, forget at)
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.loaded_at: float | None = None  # time.time() of the last complete load
        self._loads = 0  # complete loads on the current connection
        self.listener_pid: int | None = None  # its server process, as pg_stat_activity names it
        self._trimmed = float("-inf")  # time.monotonic() the table was last trimmed

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    def refuses(self, subject: str, session: str | None, version: int) -> bool:
        """Whether a token of `subject`, login `session`, version `version` is revoked.
        Raises RevocationsUnknown before the first load."""
        if not self._loaded.is_set():
            raise RevocationsUnknown("the gateway is still loading the revoked access tokens")
        if session is not None and session in self._sessions:
            return True
        lowest = self._versions.get(subject)
        return lowest is not None and version < lowest[0]

    def __len__(self) -> int:
        return len(self._sessions) + len(self._versions)

    # ---- keeping the set current ----------------------------------------------------------

    def apply(self, subject: str, sid: str | None, version: int | None, at: float) -> None:
        forget_at = at + self.retention
        if sid is not None:
            self._sessions[sid] = max(forget_at, self._sessions.get(sid, 0.0))
        if version is not None:
            old_version, old_forget = self._versions.get(subject, (0, 0.0))
            self._versions[subject] = (max(version, old_version), max(forget_at, old_forget))

    def _prune(self, now: float) -> None:
        self._sessions = {k: v for k, v in self._sessions.items() if v > now}
        self._versions = {k: v for k, v in self._versions.items() if v[1] > now}

    async def load(self, conn: asyncpg.Connection) -> None:
        """Merges every revocation still relevant; now and then trims the table of those that
        are not."""
        for row in await conn.fetch(LOAD, float(self.retention)):
            self.apply(row["subject"], row["sid"], row["ver"], row["at"])
        if time.monotonic() - self._trimmed >= self.reload_seconds:
            await conn.execute(TRIM, float(2 * self.retention))
            self._trimmed = time.monotonic()
        now = time.time()
        self._prune(now)
        self.loaded_at = now
        self._loads += 1
        self._loaded.set()

    async def _listen(self) -> None:
        lost, wake = asyncio.Event(), asyncio.Event()
        self._loads = 0
        conn = await asyncpg.connect(
            self.dsn, timeout=5, server_settings={"application_name": "gateway-revocations"}
        )
        self.listener_pid = conn.get_server_pid()

        def closed(_conn: Any) -> None:
            lost.set()
            wake.set()

        try:
            conn.add_termination_listener(closed)
            await conn.add_listener(CHANNEL, lambda *_notice: wake.set())
            while True:
                # Listening before loading, and woken by a notice during a load: whatever
                # commits in between is in this load or the next.
                wake.clear()
                await asyncio.wait_for(self.load(conn), timeout=10)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self.reload_seconds)
                if lost.is_set():
                    raise ConnectionError("the listening connection was closed")
        finally:
            try:
                await asyncio.wait_for(conn.close(), timeout=2)
            except Exception:  # already broken: drop it without the goodbye
                conn.terminate()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: keep the set, try again shortly
                failures = 1 if self._loads else failures + 1
                delay = min(5.0, 0.25 * 2**failures)
                log.warning(
                    "access-token revocations: %s (%s); reconnecting in %.1fs",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def start(self) -> None:
        """Starts listening and waits a moment for the first load (the app serves meanwhile,
        refusing access tokens with 503 until it is done)."""
        self._task = asyncio.create_task(self.run(), name="access-token-revocations")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._loaded.wait(), timeout=FIRST_LOAD_WAIT_SECONDS)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
