"""Operator commands: `python -m ops run | migrate | create-user`."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
from pathlib import Path

import typer
from rich.console import Console

from gateway.identity.enums import Role
from gateway.identity.errors import UsernameTaken
from gateway.identity.schemas import UserCreate
from ops.bootstrap import ROOT
from ops.demo import Loader
from ops.pg import free_port
from ops.stack import Database, Stack
from ops.users import create_user, ensure_dev_admin

cli = typer.Typer(help="巡察数据综合管理系统 operator commands", no_args_is_help=True)
console = Console()
DATA_DIR = Path(os.environ.get("INSPECTION_DATA_DIR", ROOT / ".data"))


def database() -> Database:
    return Database(
        data_dir=DATA_DIR,
        admin_url=os.environ.get("DATABASE_URL") or None,
        pg_port=int(os.environ.get("INSPECTION_PG_PORT", "54329")),
    )


def ports() -> dict[str, int]:
    """Gateway on INSPECTION_PORT_BASE (8000), the services on the next three ports."""
    base = int(os.environ.get("INSPECTION_PORT_BASE", "8000"))
    return {"gateway": base, "rounds": base + 1, "findings": base + 2, "referrals": base + 3}


@cli.command()
def run(
    demo: bool = typer.Option(False, "--demo", help="load the demo city once everything is up"),
) -> None:
    """Start PostgreSQL, migrate, run the three services and the gateway until Ctrl-C."""
    db = database()
    stack = Stack(db=db, ports=ports(), log_dir=DATA_DIR / "logs")
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        with console.status("starting PostgreSQL and migrating…"):
            db.start()
        user, password = ensure_dev_admin(db.urls["gateway"], DATA_DIR)
        with console.status("starting the services and the gateway…"):
            stack.start()
        gw = stack.url("gateway")
        if demo:
            with console.status("loading the demo city…"):
                loaded = Loader(gw, user, password).load()
            console.print(
                "demo: " + (", ".join(f"{v} {k}" for k, v in loaded.items()) or "already loaded")
            )
        console.print(f"[bold green]ready[/] gateway  {gw}")
        console.print(f"          API docs {gw}/docs   (OpenAPI {gw}/openapi.json)")
        console.print(f"          login    user [bold]{user}[/] password [bold]{password}[/]")
        console.print(
            f"          e.g. curl -s -d 'grant_type=password&username={user}&password={password}'"
            f" {gw}/api/v1/auth/token"
        )
        console.print(f"          logs in {DATA_DIR / 'logs'}; Ctrl-C stops everything")
        while not stopping.wait(1.0):
            for app, proc in stack.procs.items():
                if proc.poll() is not None:
                    console.print(f"[red]{app} exited ({proc.returncode}); restarting[/]")
                    stack.start_app(app)
    finally:
        console.print("stopping…")
        stack.stop()
        db.stop()
        console.print("stopped")


@cli.command()
def migrate() -> None:
    """Create schemas and roles and run every migration, then stop an embedded server."""
    db = database()
    try:
        db.start()
        console.print("migrated: " + ", ".join(sorted(db.urls)))
    finally:
        db.stop()


@cli.command()
def revision(
    app: str = typer.Argument(..., help="gateway, rounds, findings or referrals"),
    message: str = typer.Argument(..., help="what the migration does"),
) -> None:
    """Autogenerate the next migration of an app from its models, against a throwaway
    PostgreSQL migrated to head (so your .data is untouched). Review the file it writes."""
    from alembic import command

    from ops.bootstrap import APPS
    from services.common.migrations import alembic_config, script_heads

    target = next((a for a in APPS if a.name == app), None)
    if target is None:
        raise typer.BadParameter(f"unknown app {app}")
    heads = script_heads(target.migrations)
    number = max((int(h) for h in heads if h.isdigit()), default=0) + 1
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(data_dir=Path(tmp), pg_port=free_port())
        try:
            db.start()
            cfg = alembic_config(target.migrations, db.urls[app])
            command.revision(cfg, message=message, autogenerate=True, rev_id=f"{number:04d}")
        finally:
            db.stop()


@cli.command()
def escalate(
    on: str = typer.Option("", help="the day to check, YYYY-MM-DD; default today in Beijing"),
    gateway: str = typer.Option("http://127.0.0.1:8000", envvar="GATEWAY_PUBLIC_URL"),
) -> None:
    """Issue today's rectification escalation notices (run daily from cron)."""
    from datetime import date

    from ops.jobs import run_escalations
    from ops.users import service_client_secrets

    secret = (
        os.environ.get("REFERRALS_CLIENT_SECRET") or service_client_secrets(DATA_DIR)["referrals"]
    )
    day = date.fromisoformat(on) if on else None
    result = asyncio.run(run_escalations(gateway, secret, day))
    console.print(f"{result['on']}: {len(result['created'])} notices issued")


@cli.command("events-doc")
def events_doc(
    out: Path = typer.Option(ROOT / "docs" / "EVENTS.md", help="where to write it"),
) -> None:
    """Write the integration event catalogue (docs/EVENTS.md) from the code."""
    from services.common.events.catalogue import document

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document(), encoding="utf-8")
    typer.echo(f"wrote {out}")


@cli.command("create-user")
def create_user_cmd(
    username: str,
    role: list[Role] = typer.Option(..., "--role", help="repeat for several roles"),
    display_name: str = typer.Option("", help="name shown to others; default the username"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a user of the gateway."""
    data = UserCreate(
        username=username, display_name=display_name or username, password=password, roles=role
    )
    db = database()
    try:
        db.start()
        asyncio.run(create_user(db.urls["gateway"], DATA_DIR, data))
        console.print(f"created {username} ({', '.join(r.value for r in role)})")
    except UsernameTaken:
        console.print(f"[red]{username} already exists[/]")
        raise typer.Exit(1) from None
    finally:
        db.stop()


if __name__ == "__main__":
    cli()
