"""Settings of data cross-checks, env prefix FINDINGS_CROSSCHECK_ (the service's own settings
give the database and the evidence store's `tmp/`, where uploads wait for their import)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CrosscheckSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FINDINGS_CROSSCHECK_", extra="ignore", frozen=True
    )

    worker: bool = Field(default=True, description="run imports and runs in this process")
    poll_seconds: float = Field(default=1.0, gt=0, description="how often idle runners look")
    lease_seconds: float = Field(
        default=30.0, gt=1, description="how long a job stays claimed without a renewal"
    )
    renew_seconds: float = Field(default=1.0, gt=0, description="progress and lease renewal")
    dataset_max_bytes: int = Field(
        default=1024 * 1024 * 1024, gt=0, description="largest dataset file accepted (413)"
    )
