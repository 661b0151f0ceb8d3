"""The gateway's own schema (`gateway`): one metadata for its modules."""

from sqlalchemy.orm import DeclarativeBase

from services.common.db import schema_metadata

metadata = schema_metadata("gateway")


class Base(DeclarativeBase):
    metadata = metadata
