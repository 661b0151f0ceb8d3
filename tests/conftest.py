"""Test fixtures: one embedded PostgreSQL for the session, provisioned and migrated exactly as
`make run` does it (roles, schemas, Alembic), and apps wired to it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from gateway.keys import Signer
from ops.pg import free_port
from ops.stack import Database
from services.common.auth import KeySet

ISSUER = "inspection-gateway"

# A service tested in-process has no event hub behind its stand-in gateway: its outbox is read
# by the tests themselves. The real processes of tests/e2e relay (ops.stack turns it back on).
for _prefix in ("ROUNDS", "FINDINGS", "REFERRALS"):
    os.environ[f"{_prefix}_OUTBOX_RELAY"] = "false"


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    data_dir = tmp_path_factory.mktemp("data")
    db = Database(data_dir=Path(data_dir), pg_port=free_port())
    db.start()
    try:
        yield db
    finally:
        db.stop()


@pytest.fixture(scope="session")
def test_signer() -> Signer:
    """Stands in for the gateway when a service is tested on its own."""
    return Signer(Ed25519PrivateKey.generate(), [], issuer=ISSUER)


@pytest.fixture(scope="session")
def test_keys(test_signer: Signer) -> KeySet:
    keys = KeySet(None)
    keys.load(test_signer.jwks)
    return keys


MintToken = Callable[..., str]


@pytest.fixture(scope="session")
def mint(test_signer: Signer) -> MintToken:
    def _mint(audience: str, roles: list[str] | None = None, ttl: int = 60, **extra: Any) -> str:
        claims = {
            "sub": extra.pop("sub", str(uuid.uuid4())),
            "name": "tester",
            "roles": roles if roles is not None else ["office"],
            "groups": [],
            "rid": uuid.uuid4().hex,
            **extra,
        }
        return test_signer.sign(claims, audience=audience, ttl=ttl)

    return _mint


@asynccontextmanager
async def serve(app: FastAPI, **client_kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, with its lifespan run (engine opened and disposed)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", **client_kwargs
        ) as client:
            yield client
