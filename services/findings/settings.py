from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import AppSettings


class FindingsSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="FINDINGS_", extra="ignore", frozen=True)

    db_schema: str = "findings"
    service_name: str = "findings"
    evidence_store: Literal["local", "s3"] = Field(
        default="local",
        description="where evidence files are kept: `evidence_dir`, or an S3-compatible bucket",
    )
    evidence_dir: Path = Field(
        default=Path(".data/evidence"),
        description="evidence files (local store), and uploads in progress (`tmp/`, either store)",
    )
    evidence_max_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="largest evidence file accepted (413 above)"
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="an S3-compatible store (MinIO, Ceph, ...); default AWS S3"
    )
    s3_bucket: str | None = Field(default=None, description="the bucket; required with s3")
    s3_region: str | None = None
    s3_access_key_id: str | None = Field(
        default=None, description="with the secret; neither: boto3's own chain (env, role, ...)"
    )
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = Field(default="evidence/", description="put before every object key, as it is")
    membership_cache_seconds: float = Field(
        default=30.0, ge=0, description="how long a user's groups (from rounds) are reused"
    )

    @model_validator(mode="after")
    def _s3_complete(self) -> Self:
        if self.evidence_store == "s3" and not self.s3_bucket:
            raise ValueError("evidence_store=s3 needs s3_bucket (FINDINGS_S3_BUCKET)")
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError("set both s3_access_key_id and s3_secret_access_key, or neither")
        return self
