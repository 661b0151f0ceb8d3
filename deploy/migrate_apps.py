"""Migrations where each app has its own PostgreSQL (or its role and schema were made by the
database operator): every app's Alembic migrations as that app's own role, then the services'
OAuth2 clients at the gateway. Nothing here needs an administrative role.

Reads `<APP>_DATABASE_URL` for gateway, rounds, findings and referrals (after deploy/entrypoint.py
has filled in the passwords) and the service client secrets from
`$INSPECTION_DATA_DIR/secrets/client-<service>.secret`, as `python -m ops migrate` does. Each role
must own its schema (named like the app) and have it on its search_path.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from ops.bootstrap import APPS
from ops.users import ensure_service_clients
from services.common.migrations import upgrade_to_head


def main() -> None:
    missing = [
        f"{a.env_prefix}DATABASE_URL"
        for a in APPS
        if not os.environ.get(f"{a.env_prefix}DATABASE_URL")
    ]
    if missing:
        sys.exit("migrate_apps: unset " + ", ".join(missing))
    for app in APPS:
        upgrade_to_head(app.migrations, os.environ[f"{app.env_prefix}DATABASE_URL"])
        print(f"migrated {app.name}", flush=True)
    data_dir = Path(os.environ.get("INSPECTION_DATA_DIR", "/var/lib/inspection"))
    clients = asyncio.run(ensure_service_clients(os.environ["GATEWAY_DATABASE_URL"], data_dir))
    print("service clients: " + ", ".join(sorted(clients)), flush=True)


if __name__ == "__main__":
    main()
