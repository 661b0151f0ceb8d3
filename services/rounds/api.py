"""All routers of the rounds service, one subpackage per part of the planning work."""

from fastapi import APIRouter

from services.rounds.coverage.api import routers as coverage
from services.rounds.planning.api import routers as planning
from services.rounds.registry.api import routers as registry
from services.rounds.staffing.api import routers as staffing
from services.rounds.summary.api import routers as summary

# summary first: /api/v1/rounds/summary is not a round id
routers: list[APIRouter] = [*summary, *registry, *planning, *staffing, *coverage]
