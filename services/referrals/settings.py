from pydantic_settings import SettingsConfigDict

from services.common.settings import AppSettings


class ReferralsSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRALS_", extra="ignore", frozen=True)

    db_schema: str = "referrals"
    service_name: str = "referrals"
