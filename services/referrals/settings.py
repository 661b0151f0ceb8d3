from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import AppSettings
from services.referrals.enums import NoticeRecipient


class EscalationRung(BaseModel):
    """A rung of the escalation ladder: once `days_before` days or fewer are left before an
    open item's deadline, `notify` gets a notice. A negative number means days past it
    (-1: the day after the deadline, i.e. overdue)."""

    days_before: int = Field(ge=-3650, le=3650)
    notify: NoticeRecipient


DEFAULT_LADDER = [
    EscalationRung(days_before=20, notify=NoticeRecipient.owner),
    EscalationRung(days_before=10, notify=NoticeRecipient.leader_in_charge),
    EscalationRung(days_before=-1, notify=NoticeRecipient.unit_head),
]


class ReferralsSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRALS_", extra="ignore", frozen=True)

    db_schema: str = "referrals"
    service_name: str = "referrals"
    feedback_months: int = Field(
        default=3, ge=1, le=24, description="a lead's feedback deadline, in months from transfer"
    )
    membership_cache_seconds: float = Field(
        default=30.0, ge=0, description="how long a user's groups (from rounds) are reused"
    )
    escalation_ladder: list[EscalationRung] = Field(
        default_factory=lambda: list(DEFAULT_LADDER),
        min_length=1,
        description='JSON, e.g. [{"days_before": 20, "notify": "owner"}, ...]',
    )


def referrals_settings(request: Request) -> ReferralsSettings:
    settings: ReferralsSettings = request.app.state.settings
    return settings


Settings = Annotated[ReferralsSettings, Depends(referrals_settings)]
