from pydantic_settings import SettingsConfigDict

from services.common.settings import AppSettings


class RoundsSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="ROUNDS_", extra="ignore", frozen=True)

    db_schema: str = "rounds"
    service_name: str = "rounds"
