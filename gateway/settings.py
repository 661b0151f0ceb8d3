import base64
import binascii
from pathlib import Path

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import AppSettings


class GatewaySettings(AppSettings):
    """Environment prefix GATEWAY_. Secrets are file paths, never values in the repository."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    db_schema: str = "gateway"
    service_name: str = "gateway"
    public_url: str = "http://127.0.0.1:8000"
    rounds_url: str = "http://127.0.0.1:8001"
    findings_url: str = "http://127.0.0.1:8002"
    referrals_url: str = "http://127.0.0.1:8003"
    signing_key_file: Path = Field(
        default=Path(".data/keys/gateway-signing.pem"),
        description="Ed25519 private key (PEM); generated on first run in development only",
    )
    previous_signing_key_files: list[Path] = Field(
        default_factory=list, description="retired keys still published in the JWKS"
    )
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    internal_token_ttl_seconds: int = 60
    revocation_reload_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="how often the revoked access tokens are reloaded from the database besides "
        "the notices of each revocation (a safety net, and how a dead listener is noticed)",
    )
    login_failures_per_address: int = Field(
        default=50,
        ge=1,
        description="failed password or client-credentials grants from one address (IPv6: one "
        "/64) within the window, after which its grants are answered 429 (per gateway process)",
    )
    login_failure_window_seconds: float = Field(default=600, gt=0)
    api_key_max_days: int = Field(
        default=397,
        ge=1,
        le=3660,
        description="the longest an API key may be issued or extended for (its `expires_at`)",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="largest request body forwarded (JSON, forms)"
    )
    max_upload_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="largest body of a file upload route (evidence); the service's own limit "
        "is exact, this one only keeps unbounded bodies out",
    )
    observability: bool = Field(
        default=True,
        description="request metrics, spans and access lines (off only to measure their cost)",
    )
    hub_dispatch: bool = Field(default=True, description="run the event hub's dispatcher here")
    hub_poll_seconds: float = Field(default=0.1, gt=0, le=60)
    hub_batch: int = Field(default=100, ge=1, le=1000)
    hub_lease_seconds: float = Field(
        default=60, gt=0, description="a claimed delivery is retried after this if unanswered"
    )
    service_retry_cap_seconds: float = Field(default=30, gt=0)
    service_retry_limit: int = Field(
        default=100_000, ge=1, description="tries before a service delivery is dead-lettered"
    )
    service_delivery_timeout_seconds: float = Field(default=10, gt=0)
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    webhook_retry_schedule: list[float] = Field(
        # Standard Webhooks' spirit: quick at first, then spread over about three days
        default=[5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
        description="seconds before each retry of a failed webhook delivery; dead after the last",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="allow webhook URLs on private, loopback and link-local addresses (tests)",
    )
    dashboard_cache_seconds: float = Field(
        default=10,
        ge=0,
        description="the dashboard's figures of one scope are served from memory this long "
        "(0: never cached); the statistical table and export packages always count afresh",
    )
    export_dir: Path = Field(
        default=Path(".data/exports"), description="where export packages are built and kept"
    )
    export_keep_seconds: int = Field(
        default=3600, gt=0, description="a finished export package is deleted after this"
    )
    export_concurrency: int = Field(
        default=2, ge=1, le=16, description="export packages built at the same time"
    )
    export_page_size: int = Field(
        default=200, ge=1, le=200, description="rows asked of a service per page when exporting"
    )
    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 30.0
    upstream_pool_size: int = 256
    audit_read_resources: list[str] = Field(
        default=["leads", "findings", "exports", "audit"],
        description="resources (`/api/v1/<resource>`) whose every read is audited; every write "
        "anywhere is audited regardless",
    )
    audit_trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="proxies (addresses or networks) whose X-Forwarded-For is believed for the "
        "client address in the audit trail; none by default",
    )
    audit_timeout_seconds: float = Field(
        default=5, gt=0, description="longest wait for one audit append before answering 503"
    )
    platform_callback_secret: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks secret (`whsec_<base64>`) the discipline inspection "
        "network platform signs its callbacks with; unset: the callback routes answer 503",
    )
    platform_callback_previous_secret: SecretStr | None = Field(
        default=None,
        description="the platform's previous callback secret, still accepted while it rotates",
    )

    @field_validator("platform_callback_secret", "platform_callback_previous_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """`whsec_` and at least 24 bytes of base64 (Standard Webhooks): a typo is refused at
        start-up, not discovered as 401s from a platform that signs correctly."""
        if value is None:
            return None
        raw = value.get_secret_value()
        encoded = raw.removeprefix("whsec_")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not raw.startswith("whsec_") or len(key) < 24:
            raise ValueError("expected whsec_ followed by at least 24 bytes in base64")
        return value
