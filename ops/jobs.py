"""Scheduled work, run by cron (or a Kubernetes CronJob) against a running system."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import SecretStr

from services.common.errors import ServiceUnavailable
from services.common.gateway_client import GatewayClient
from services.common.settings import AppSettings


async def run_escalations(gateway_url: str, secret: str, on: date | None = None) -> dict[str, Any]:
    """The daily escalation of rectification items (issue 5), as the referrals service's own
    machine client; safe to run twice a day (no notice is issued twice)."""
    settings = AppSettings(
        database_url="unused://",
        db_schema="referrals",
        service_name="referrals",
        gateway_url=gateway_url,
        client_secret=SecretStr(secret),
    )
    client = GatewayClient(settings)
    try:
        resp = await client.request(
            "POST", "/api/v1/notices/escalations", json={"on": on.isoformat() if on else None}
        )
        if resp.status_code != 200:
            raise ServiceUnavailable(f"escalation run refused: {resp.status_code} {resp.text}")
        result: dict[str, Any] = resp.json()
        return result
    finally:
        await client.close()
