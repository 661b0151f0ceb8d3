"""All routers of the referrals service, one subpackage per part of the hand-over work.
Fixed paths under /api/v1/leads (stats, receivers) come before /api/v1/leads/{lead_id}."""

from fastapi import APIRouter

from services.referrals.leads.api import routers as leads
from services.referrals.rectifications.api import routers as rectifications
from services.referrals.results.api import routers as results
from services.referrals.stats.api import routers as stats

routers: list[APIRouter] = [*stats, *leads, *rectifications, *results]
