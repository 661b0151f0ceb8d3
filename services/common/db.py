"""Async engine and sessions. Only the request boundary commits; services and repositories flush."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.common.settings import AppSettings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


class Database:
    """One engine per app, connected as the app's own role, search_path pinned to its schema."""

    def __init__(self, settings: AppSettings) -> None:
        self.schema = settings.db_schema
        self.engine: AsyncEngine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=True,
            connect_args={
                "server_settings": {
                    "search_path": settings.db_schema,
                    "application_name": settings.service_name,
                    "timezone": "UTC",
                }
            },
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The unit of work of one request: committed when the handler returns, rolled back if it
    raises. Commit happens before the response is sent, so a failed commit is the client's error
    response, never a silent loss after a 201."""
    shared = request.scope.get("state", {}).get("idempotent_session")
    if shared is not None:
        # IdempotencyMiddleware owns this transaction: it commits the change together with the
        # stored response, or rolls both back.
        yield shared
        await shared.flush()
        return
    db: Database = request.app.state.db
    async with db.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(request_session, scope="function")]
