"""Settings shared by every app; each app subclasses with its own env prefix (ROUNDS_, ...)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    """What every service needs: its database, the gateway, and how to trust internal tokens."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field(description="postgresql+asyncpg:// URL of this service's own role")
    db_schema: str = Field(description="the PostgreSQL schema this service owns")
    db_pool_size: int = 10
    db_max_overflow: int = 10
    gateway_url: str = "http://127.0.0.1:8000"
    jwks_url: str | None = Field(
        default=None, description="where the gateway publishes its keys; default <gateway_url>"
    )
    token_issuer: str = "inspection-gateway"  # noqa: S105 - an issuer name, not a secret
    service_name: str = Field(description="audience this service accepts in internal tokens")
    environment: str = "dev"
    client_id: str | None = Field(
        default=None, description="this service's OAuth2 client id at the gateway; default its name"
    )
    client_secret: SecretStr | None = Field(
        default=None, description="its client secret (calls to other services through the gateway)"
    )

    outbox_relay: bool = Field(
        default=True, description="run the outbox relay (integration events to the hub) here"
    )
    outbox_poll_seconds: float = Field(
        default=0.1, gt=0, le=60, description="how often the relay looks for new events"
    )

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or f"{self.gateway_url.rstrip('/')}/.well-known/jwks.json"
