"""The Chinese labels of the services' enums, as each service publishes them in its OpenAPI
(`x-enum-labels`): the gateway keeps no copy of another service's enums."""

from __future__ import annotations

import time
from typing import Any

from gateway.dashboard.clients import Services

KEEP_SECONDS = 300.0
Labels = dict[str, dict[str, str]]  # enum name -> code -> label


class EnumLabels:
    def __init__(self) -> None:
        self._cached: dict[str, tuple[float, Labels]] = {}

    async def of(self, services: Services, service: str) -> Labels:
        hit = self._cached.get(service)
        if hit is not None and time.monotonic() - hit[0] < KEEP_SECONDS:
            return hit[1]
        doc: dict[str, Any] = await services.get(service, "/openapi.json")
        schemas = doc.get("components", {}).get("schemas", {})
        found: Labels = {
            name: dict(schema["x-enum-labels"])
            for name, schema in schemas.items()
            if isinstance(schema, dict) and "x-enum-labels" in schema
        }
        self._cached[service] = (time.monotonic(), found)
        return found


def label(labels: Labels, enum: str, code: str | None) -> str:
    """The label of a code (the code itself if the service gave none); empty for null."""
    if code is None:
        return ""
    return labels.get(enum, {}).get(code, code)
