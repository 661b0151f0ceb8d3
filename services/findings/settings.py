from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import AppSettings


class FindingsSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="FINDINGS_", extra="ignore", frozen=True)

    db_schema: str = "findings"
    service_name: str = "findings"
    evidence_dir: Path = Field(
        default=Path(".data/evidence"), description="where evidence files are stored"
    )
    evidence_max_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, description="largest evidence file accepted (413 above)"
    )
    membership_cache_seconds: float = Field(
        default=30.0, ge=0, description="how long a user's groups (from rounds) are reused"
    )
