"""Routes of the planning part of the rounds service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
