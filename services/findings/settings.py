from pydantic_settings import SettingsConfigDict

from services.common.settings import AppSettings


class FindingsSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="FINDINGS_", extra="ignore", frozen=True)

    db_schema: str = "findings"
    service_name: str = "findings"
