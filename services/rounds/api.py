"""All routers of the rounds service, one subpackage per part of the planning work."""

from fastapi import APIRouter

from services.rounds.registry.api import routers as registry

routers: list[APIRouter] = [*registry]
