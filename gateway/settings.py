from pathlib import Path

from pydantic import Field
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
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="largest request body forwarded (JSON, forms)"
    )
    max_upload_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="largest body of a file upload route (evidence); the service's own limit "
        "is exact, this one only keeps unbounded bodies out",
    )
    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 30.0
    upstream_pool_size: int = 256
