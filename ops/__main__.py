"""Operator commands: `python -m ops run | migrate | create-user`."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from gateway.identity.enums import Role
from gateway.identity.errors import UsernameTaken, UserNotFound, WeakPassword
from gateway.identity.schemas import UserCreate
from ops.bootstrap import ROOT
from ops.demo import Loader
from ops.pg import free_port
from ops.stack import Database, Stack
from ops.users import change_user, create_user, ensure_dev_admin

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


@cli.command("policy-doc")
def policy_doc(
    out: Path = typer.Option(ROOT / "docs" / "POLICY.md", help="where to write it"),
) -> None:
    """Write the access policy table (docs/POLICY.md) from the code."""
    from services.common.policy import document

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


def _change_user(username: str, **change: Any) -> None:
    db = database()
    try:
        db.start()
        asyncio.run(change_user(db.urls["gateway"], DATA_DIR, username, **change))
    except (UserNotFound, WeakPassword) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        db.stop()


@cli.command("disable-user")
def disable_user_cmd(username: str) -> None:
    """Disable an account: its logins end and its access tokens are refused at once."""
    _change_user(username, active=False)
    console.print(f"disabled {username}")


@cli.command("enable-user")
def enable_user_cmd(username: str) -> None:
    """Enable a disabled account again (it logs in afresh)."""
    _change_user(username, active=True)
    console.print(f"enabled {username}")


@cli.command("set-roles")
def set_roles_cmd(
    username: str,
    role: list[Role] = typer.Option(..., "--role", help="repeat for several roles"),
) -> None:
    """Replace a user's roles: access tokens with the old ones are refused at once."""
    _change_user(username, roles=role)
    console.print(f"{username}: {', '.join(r.value for r in role)}")


@cli.command("set-password")
def set_password_cmd(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a user's password: every login of the account ends."""
    _change_user(username, password=password)
    console.print(f"new password set for {username}")


# ---- the audit trail (issue #9) -------------------------------------------------------------


def _gateway_url() -> tuple[str, Database | None]:
    """The gateway role's URL: GATEWAY_DATABASE_URL (a deployment), or the local database,
    started for the command (returned, to be stopped after) only if `make run` is not already
    running it."""
    from ops.bootstrap import load_passwords, with_credentials
    from ops.pg import EmbeddedPostgres
    from ops.stack import DATABASE

    if url := os.environ.get("GATEWAY_DATABASE_URL"):
        return url, None
    db = database()
    embedded = EmbeddedPostgres(DATA_DIR / "pg", db.pg_port) if db.admin_url is None else None
    if embedded is None or embedded.is_running():
        admin = db.admin_url or (embedded.admin_url() if embedded else "")
        password = load_passwords(DATA_DIR / "secrets")["gateway"]
        return with_credentials(admin, "gateway_svc", password, DATABASE), None
    db.start()
    return db.urls["gateway"], db


@cli.command("verify-audit")
def verify_audit(
    held: str = typer.Option(
        "", help="SEQ:HASH of a head kept earlier (`audit-head`): check it is still there"
    ),
) -> None:
    """Recompute the audit trail's hash chain; exit 1 naming the first broken entry."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from sqlalchemy.ext.asyncio import create_async_engine

    from gateway.audit.verify import Verification, verify

    expected = None
    if held:
        seq, _, digest = held.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise typer.BadParameter("expected SEQ:HASH (hash in hex)", param_hint="--held")
        expected = (int(seq), bytes.fromhex(digest))

    async def run(url: str, progress: Progress) -> Verification:
        task = progress.add_task("verifying", total=None)
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await verify(
                    conn,
                    held=expected,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        finally:
            await engine.dispose()

    url, started = _gateway_url()
    try:
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeRemainingColumn(), console=console) as bar:
            result = asyncio.run(run(url, bar))
    finally:
        if started is not None:
            started.stop()
    if result.broken is not None:
        console.print(
            f"[red]audit chain broken at seq {result.broken.seq}[/]: {result.broken.reason} "
            f"({result.checked} entries verified before it, head {result.head_seq})"
        )
        raise typer.Exit(1)
    console.print(f"[green]audit chain intact[/]: {result.checked} entries, head {result.head_seq}")


@cli.command("audit-head")
def audit_head() -> None:
    """Print the audit trail's head (seq, hash, time) signed with the gateway's key, as JSON,
    for an outside party to keep."""
    import json

    from sqlalchemy.ext.asyncio import create_async_engine

    from gateway.audit.verify import Head, current_head, signed_head
    from gateway.keys import Signer, load_or_create
    from gateway.settings import GatewaySettings

    async def read(url: str) -> Head:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await current_head(conn)
        finally:
            await engine.dispose()

    key = os.environ.get("GATEWAY_SIGNING_KEY_FILE") or DATA_DIR / "keys" / "gateway-signing.pem"
    try:  # the gateway's own key, never a new one: a head signed by nobody known is worthless
        private = load_or_create(Path(key), create=False)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    url, started = _gateway_url()
    try:
        head = asyncio.run(read(url))
    finally:
        if started is not None:
            started.stop()
    issuer = GatewaySettings(database_url=url).token_issuer
    typer.echo(
        json.dumps(signed_head(head, Signer(private, [], issuer)), ensure_ascii=False, indent=2)
    )


# ---- export packages (issue #8) -------------------------------------------------------------


@cli.command("export-package")
def export_package(
    round_id: str = typer.Option("", help="the round to export"),
    term_id: str = typer.Option("", help="the term to export (all its rounds)"),
    recipient: str = typer.Option(
        "", help="office (lead subjects named) or superior (no names); default: your role's"
    ),
    out: Path = typer.Option(Path("."), help="a file, or a folder for export-<id>.zip"),
    gateway: str = typer.Option("http://127.0.0.1:8000", envvar="GATEWAY_PUBLIC_URL"),
    username: str = typer.Option("admin", envvar="INSPECTION_USERNAME"),
    password: str = typer.Option(
        "", envvar="INSPECTION_PASSWORD", help="default: the development admin's (.data/secrets)"
    ),
) -> None:
    """Export a round or a term for the higher-level office: a ZIP of XLSX, CSV and JSON
    registers with a manifest of SHA-256 sums, followed on a progress bar, then checked."""
    import httpx

    from ops.export_package import ExportFailed, Request, run

    if bool(round_id) == bool(term_id):
        raise typer.BadParameter("give exactly one of --round-id and --term-id")
    if not password:
        stored = DATA_DIR / "secrets" / "dev-admin.password"
        if not stored.exists():
            raise typer.BadParameter("give --password (or INSPECTION_PASSWORD)")
        password = stored.read_text().strip()
    req = Request(gateway, username, password, round_id or None, term_id or None,
                  recipient or None, out)  # fmt: skip
    try:
        saved = run(req, console)
    except (ExportFailed, httpx.HTTPError, OSError) as exc:
        console.print(f"[red]export failed[/]: {exc}")
        raise typer.Exit(1) from None
    console.print(f"[green]saved[/] {saved} (checked against its manifest)")


# ---- data cross-checks (issue #7) -----------------------------------------------------------


@cli.command("import-dataset")
def import_dataset(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or XLSX"),
    kind: str = typer.Option(..., help="loan_recipients, staff_roster, deaths, ..."),
    dataset: str = typer.Option("", help="the dataset's name; default the file's name"),
    round_id: str = typer.Option("", "--round", help="the round it serves (leaders: required)"),
    mapping: str = typer.Option("", help='JSON {"id_number": "证件号码", ...}'),
    partial: bool = typer.Option(False, help="keep the good rows, report the bad"),
    gateway: str = typer.Option("http://127.0.0.1:8000", envvar="GATEWAY_PUBLIC_URL"),
    user: str = typer.Option("", envvar="INSPECTION_USER"),
    password: str = typer.Option("", envvar="INSPECTION_PASSWORD"),
    token: str = typer.Option("", envvar="INSPECTION_TOKEN", help="an access token instead"),
) -> None:
    """Upload a dataset (streamed) and follow its import with a progress bar."""
    from ops import crosschecks

    with crosschecks.signed_in(console, gateway, user, password, token) as client:
        ok = crosschecks.import_dataset(
            console, client, file, kind, dataset or file.stem, round_id, mapping, partial
        )
    if not ok:
        raise typer.Exit(1)


@cli.command("run-crosscheck")
def run_crosscheck(
    round_id: str = typer.Option(..., "--round", help="the round the run belongs to"),
    datasets: list[str] = typer.Option(..., "--dataset", help="a dataset version id; repeat"),
    rules: list[str] = typer.Option(..., "--rule", help="a rule code; repeat"),
    params: str = typer.Option("", help='JSON {"amount_over_cap": {"cap": "150000"}, ...}'),
    title: str = typer.Option(""),
    gateway: str = typer.Option("http://127.0.0.1:8000", envvar="GATEWAY_PUBLIC_URL"),
    user: str = typer.Option("", envvar="INSPECTION_USER"),
    password: str = typer.Option("", envvar="INSPECTION_PASSWORD"),
    token: str = typer.Option("", envvar="INSPECTION_TOKEN", help="an access token instead"),
) -> None:
    """Run rules over dataset versions and follow the run with a progress bar."""
    from ops import crosschecks

    with crosschecks.signed_in(console, gateway, user, password, token) as client:
        ok = crosschecks.run(console, client, round_id, datasets, rules, params, title)
    if not ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    cli()
