"""Routes of the staffing part of the rounds service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
