"""All routers of the referrals service, one subpackage per part of the hand-over work.
Fixed paths under /api/v1/leads (receivers, stats) come before /api/v1/leads/{lead_id}."""

from fastapi import APIRouter

from services.referrals.leads.api import routers as leads
from services.referrals.rectifications.api import routers as rectifications

routers: list[APIRouter] = [*leads, *rectifications]
