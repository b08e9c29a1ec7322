"""The `opex-crm` command: serve, migrations, seeds, accounts, secrets, health."""

from __future__ import annotations

import functools
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy.exc import OperationalError

from crm_app.platform.config import Settings, get_settings
from crm_app.platform.errors import ConfigError, ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"opex-crm: {message}", err=True)
    sys.exit(code)


def one_line_errors(func: F) -> F:
    """Configuration and connection problems end the command with one line, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            _fail(f"configuration error: {exc}", 2)
        except OperationalError as exc:
            url = get_settings().sqlalchemy_url.render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
            _fail(f"cannot reach the database {url}: {reason}")

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    return get_settings()


@click.group()
@click.version_option(package_name="opex-crm")
def main() -> None:
    """OPEx CRM: the CRM for medical B2B sales teams."""
    from crm_app import bootstrap

    bootstrap.wire()  # every command sees the jobs, subscribers and settings sections of every area


@main.command()
@click.option("--demo", is_flag=True, help="Create the demo teams and accounts when the database has no user.")
@click.option(
    "--migrate/--no-migrate",
    default=None,
    help="Apply pending migrations first (default: yes on SQLite, no on PostgreSQL where the "
    "systemd unit runs `opex-crm db upgrade` before start).",
)
@one_line_errors
def serve(demo: bool, migrate: bool | None) -> None:
    """Start the web server (UI, REST API and scheduler)."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # NiceGUI reads its storage path when it is imported: set it first, under DATA_DIR.
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str((settings.data_dir / "nicegui").resolve()))
    from crm_app.platform.logs import configure_logging

    configure_logging(settings.log_level)
    from crm_app.operations import migrate as migrations

    if migrate or (migrate is None and settings.uses_sqlite):
        migrations.upgrade()
    elif not migrations.is_up_to_date():
        _fail("the database schema is not up to date: run `opex-crm db upgrade` first")
    if demo and settings.is_production:
        _fail("--demo is refused with APP_ENV=production")
    settings, notice = demo_settings(settings) if demo else (settings, None)
    url = settings.base_url or f"http://localhost:{settings.port}"
    lines = [
        f"OPEx CRM {_version()} on {url}",
        f"database: {settings.sqlalchemy_url.render_as_string(hide_password=True)}",
    ]
    if demo:
        seed = _seed_demo()
        lines.append(
            f"demo administrator: {seed.admin_email}  password: {seed.password}"
            + ("  (created now)" if seed.created else "")
        )
    if notice:
        lines.append(notice)
    click.echo("\n".join(lines), err=True)
    from nicegui import app

    from crm_app import web
    from crm_app.operations.shutdown import exit_zero_after_graceful_stop
    from crm_app.serving.gc_tuning import tune_after_startup

    exit_zero_after_graceful_stop()
    app.on_startup(tune_after_startup)
    web.run(settings)


def demo_settings(settings: Settings) -> tuple[Settings, str | None]:
    """The demo's password is published: unless HOST was set, the demo listens on this machine only."""
    if "host" in settings.model_fields_set:
        return settings, None
    return settings.model_copy(update={"host": "127.0.0.1"}), (
        "demo mode: listening on 127.0.0.1 only, since the demo password is public; "
        "to open it to the network, set HOST (HOST=0.0.0.0 opex-crm serve --demo)"
    )


def _version() -> str:
    from crm_app import __version__

    return __version__


def _seed_demo() -> Any:
    from crm_app.analytics import health
    from crm_app.demo import seed as demo
    from crm_app.platform.db import unit_of_work

    with unit_of_work() as session:
        seeded = demo.seed_demo(session)
        # Scored now rather than at the next nightly run: the list's Health column and the dashboard's
        # accounts needing attention are filled from the first look.
        health.recompute(session)
        return seeded


@main.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command()
@click.argument("revision", default="head")
@one_line_errors
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from crm_app.operations import migrate

    migrate.upgrade(revision)
    click.echo(f"database at revision {migrate.current_revision()}")


@db.command()
@click.argument("revision", default="-1")
@one_line_errors
def downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: one step back; `base` for an empty schema)."""
    from crm_app.operations import migrate

    migrate.downgrade(revision)
    click.echo(f"database at revision {migrate.current_revision() or 'base'}")


@db.command()
@one_line_errors
def current() -> None:
    """Print the database's revision and whether it is the latest."""
    from crm_app.operations import migrate

    revision, head = migrate.current_revision(), migrate.head_revision()
    click.echo(f"{revision or 'base'} ({'head' if revision == head else f'head is {head}'})")


@db.command()
@one_line_errors
def history() -> None:
    """List the migrations."""
    from crm_app.operations import migrate

    click.echo(migrate.history().rstrip())


@db.command()
@click.option("-m", "--message", required=True, help="What the migration changes.")
@one_line_errors
def revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    from crm_app.operations import migrate

    migrate.revision(message)


@db.command()
@one_line_errors
def check() -> None:
    """Exit 1 when the models and the migrations differ."""
    from alembic.util.exc import AutogenerateDiffsDetected

    from crm_app.operations import migrate

    try:
        migrate.check()
    except AutogenerateDiffsDetected as exc:
        _fail(f"models and migrations differ: {exc}")
    click.echo("models and migrations match")


@db.command()
@click.option("--yes-i-know", "confirmed", is_flag=True, help="Confirm: every row and stored file is deleted.")
@click.option("--demo", is_flag=True, help="Load the demo data afterwards.")
@one_line_errors
def reset(confirmed: bool, demo: bool) -> None:
    """Development only: back up, then empty the database and the stored files and migrate to head."""
    from crm_app.operations.backup import BackupError
    from crm_app.operations.reset import reset_database

    if _settings().is_production:
        _fail("db reset is refused with APP_ENV=production")
    if not confirmed:
        _fail("db reset deletes every row and stored file: add --yes-i-know to go on")
    try:
        result = reset_database()
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"backup written to {result.backup}" if result.backup else "no database yet: nothing to back up")
    click.echo(f"database emptied and at revision {result.revision}")
    if demo:
        seeded = _seed_demo()
        click.echo(f"demo data created; administrator {seeded.admin_email} / {seeded.password}")


@main.command()
@click.option(
    "--output",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the archives (default: DATA_DIR/backups).",
)
@click.option(
    "--keep-days",
    default=14,
    show_default=True,
    type=click.IntRange(min=0),
    help="Then delete the archives of that directory older than N days (0: keep all).",
)
@one_line_errors
def backup(output: Path | None, keep_days: int) -> None:
    """Archive the database (pg_dump or SQLite online backup) and the stored files."""
    from crm_app.operations.backup import BackupError, archive_size, create_backup

    try:
        result = create_backup(output, keep_days=keep_days)
    except BackupError as exc:
        _fail(f"backup failed: {exc}")
    manifest = result.manifest
    click.echo(
        f"backup written to {result.path} ({archive_size(result.path)}; {manifest.database} at revision "
        f"{manifest.revision or 'base'}, {manifest.file_count} stored file(s))"
    )
    for path in result.pruned:
        click.echo(f"deleted {path.name} (older than {keep_days} days)")


@main.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--yes-i-know",
    "confirmed",
    is_flag=True,
    help="Confirm: the database and the stored files are replaced by the archive's.",
)
@one_line_errors
def restore(archive: Path, confirmed: bool) -> None:
    """Check ARCHIVE, then (with --yes-i-know) replace the database and the stored files by its content.

    Stop the service first. Without --yes-i-know nothing changes: the archive is only checked."""
    from crm_app.operations.backup import BackupError, describe, restore_backup, verified_archive

    try:
        if not confirmed:
            with verified_archive(archive) as (manifest, _):
                click.echo(f"{archive.name} is complete: {describe(manifest)}")
            _fail("nothing restored: add --yes-i-know to replace the database and the stored files")
        result = restore_backup(archive)
    except BackupError as exc:
        _fail(f"restore refused, nothing changed: {exc}")
    manifest = result.manifest
    click.echo(f"restored {archive.name}: {describe(manifest)}")
    if manifest.revision != result.head:
        click.echo(
            f"the schema is behind this version (head {result.head}): run `opex-crm db upgrade` "
            "(the systemd unit does it before starting)"
        )


@main.command()
def doctor() -> None:
    """Check the configuration, database, migrations, SMTP, data directory, disk and clock; exit 1 on a failure."""
    from crm_app.operations.doctor import run_checks

    report = run_checks()
    for check in report.checks:
        click.echo(check.line())
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


@main.command()
@click.option("--demo", is_flag=True, required=True, help="Demo teams and accounts (development only).")
@one_line_errors
def seed(demo: bool) -> None:
    """Load demo data (idempotent)."""
    if _settings().is_production:
        _fail("demo data is refused with APP_ENV=production")
    result = _seed_demo()
    state = "created" if result.created else "already present"
    click.echo(f"demo data {state}; administrator {result.admin_email} / {result.password}")


@main.command("create-admin")
@click.option("--email", required=True)
@click.option("--password", help="Read from standard input when omitted (e.g. `echo $PW | opex-crm create-admin ...`).")
@click.option("--name", default="Administrator", show_default=True)
@click.option("--role", type=click.Choice(["super_admin", "admin"]), default="super_admin", show_default=True)
@one_line_errors
def create_admin(email: str, password: str | None, name: str, role: str) -> None:
    """Create an administrator account (first install, recovery)."""
    from crm_app.accounts import users
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.models.people import Role
    from crm_app.platform.permissions import SYSTEM_ACTOR

    if password is None:
        password = (
            click.prompt("Password", hide_input=True, confirmation_prompt=True)
            if sys.stdin.isatty()
            else sys.stdin.readline().rstrip("\r\n")
        )
    try:
        with unit_of_work() as session:
            user = users.create_user(
                session, SYSTEM_ACTOR, email=email, full_name=name, role=Role(role), password=password
            )
    except ValidationFailed as exc:
        _fail("; ".join(f"{field}: {message}" for field, message in exc.field_errors.items()))
    click.echo(f"created {user.role.value} {user.email}")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["user", "manager", "team_admin", "admin", "super_admin"]))
@click.option("--team", help="The team's name.")
@click.option("--name", help="Full name (default: from the email).")
@click.option("--password", help="Without it, an invitation email is queued and its link printed.")
@one_line_errors
def create_user(email: str, role: str, team: str | None, name: str | None, password: str | None) -> None:
    """Create an account: active with --password, else invited (the person chooses a password)."""
    from crm_app.accounts import administration as accounts
    from crm_app.accounts import users
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.errors import DomainError
    from crm_app.platform.models.people import Role
    from crm_app.platform.permissions import SYSTEM_ACTOR

    full_name = name or email.split("@", 1)[0].replace(".", " ").title()
    try:
        with unit_of_work() as session:
            team_id = accounts.find_team_id(session, team) if team else None
            if password is not None:
                user = users.create_user(
                    session,
                    SYSTEM_ACTOR,
                    email=email,
                    full_name=full_name,
                    role=Role(role),
                    password=password,
                    team_id=team_id,
                )
                click.echo(f"created {Role(user.role).value} {user.email}")
                return
            invited, link = accounts.invite_with_link(
                session, SYSTEM_ACTOR, email=email, full_name=full_name, role=Role(role), team_id=team_id
            )
    except ValidationFailed as exc:
        _fail("; ".join(f"{field}: {message}" for field, message in exc.field_errors.items()))
    except DomainError as exc:
        _fail(exc.message)
    click.echo(f"invited {Role(invited.role).value} {invited.email}; invitation link (72 h): {link}")


@main.group()
def users() -> None:
    """Accounts: list them, deactivate one (scripts and recovery)."""


@users.command("list")
@click.option("--status", type=click.Choice(["active", "invited", "deactivated"]))
@one_line_errors
def users_list(status: str | None) -> None:
    """Print every account: email, role, team, status, last login (tab-separated)."""
    from crm_app.accounts import administration as accounts
    from crm_app.accounts.administration import UserStatus
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.paging import MAX_PAGE_SIZE, PageRequest
    from crm_app.platform.permissions import SYSTEM_ACTOR

    page_number = 1
    with unit_of_work() as session:
        while True:
            page = accounts.list_users(
                session,
                SYSTEM_ACTOR,
                status=UserStatus(status) if status else None,
                request=PageRequest(page_number, MAX_PAGE_SIZE),
                sort="email",
            )
            for row in page.items:
                last_login = row.last_login_at.isoformat(timespec="seconds") if row.last_login_at else "-"
                click.echo(
                    "\t".join(
                        [row.email, row.full_name, row.role.value, row.team_name or "-", row.status.value, last_login]
                    )
                )
            if page_number * page.page_size >= page.total:
                break
            page_number += 1


@users.command("deactivate")
@click.argument("email")
@one_line_errors
def users_deactivate(email: str) -> None:
    """Deactivate EMAIL: every session and API token ends at once."""
    from crm_app.accounts import administration as accounts
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.errors import DomainError
    from crm_app.platform.permissions import SYSTEM_ACTOR

    try:
        with unit_of_work() as session:
            accounts.deactivate_user(session, SYSTEM_ACTOR, accounts.find_user_id(session, email))
    except DomainError as exc:
        _fail(exc.message)
    click.echo(f"deactivated {email.strip().lower()}")


@main.command("generate-secret")
def generate_secret() -> None:
    """Print a random secret for JWT_SECRET, JWT_REFRESH_SECRET or STORAGE_SECRET."""
    click.echo(secrets.token_urlsafe(48))


@main.command("health-check")
@click.option("--url", help="Base URL of the running server (default: BASE_URL, else http://127.0.0.1:PORT).")
@click.option("--timeout", default=5.0, show_default=True)
def health_check(url: str | None, timeout: float) -> None:
    """Ask the running server's /api/health; exit 0 when healthy, 1 otherwise (for monitoring)."""
    try:
        settings = _settings()
    except ConfigError as exc:
        _fail(f"configuration error: {exc}")
    base = (url or settings.base_url or f"http://127.0.0.1:{settings.port}").rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/api/health", timeout=timeout) as response:  # noqa: S310 - operator URL
            body = json.loads(response.read())
            status_code = response.status
    except urllib.error.HTTPError as exc:
        body, status_code = _json_or_empty(exc.read()), exc.code
    except (urllib.error.URLError, OSError) as exc:
        _fail(f"unhealthy: {base} does not answer ({getattr(exc, 'reason', exc)})")
    if status_code == 200 and body.get("status") == "ok":
        click.echo(
            f"healthy: database {body.get('database')} in {body.get('database_latency_ms')} ms, "
            f"scheduler {body.get('scheduler', {}).get('state')}"
        )
        return
    _fail(f"unhealthy: HTTP {status_code}, database {body.get('database')}")


def _json_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@main.group()
def jobs() -> None:
    """Scheduled jobs: list them, run one now."""


@jobs.command("list")
@one_line_errors
def jobs_list() -> None:
    """Each scheduled job: its schedule, its last run (by whichever instance) and outcome, its next run."""
    from crm_app.platform import scheduler
    from crm_app.platform.db import unit_of_work

    with unit_of_work() as session:
        views = scheduler.job_views(session)
    zone = scheduler.current_zone()

    def when(moment: Any) -> str:
        return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if moment else "-"

    rows = [("job", "schedule", "last run", "outcome", "next run")]
    rows += [
        (v.name, v.schedule, when(v.last_started_at), v.last_outcome or "never run", when(v.next_run_at)) for v in views
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    click.echo(f"(times in {zone})")


@jobs.command("run")
@click.argument("name")
@one_line_errors
def jobs_run(name: str) -> None:
    """Run the job NAME now (under the same lock as the scheduler); exit 1 when it fails."""
    from crm_app.platform import scheduler

    if name not in scheduler.job_names():
        _fail(f"unknown job {name!r} (known: {', '.join(scheduler.job_names())})")
    outcome = scheduler.run_job(name)
    if outcome.startswith(("error", "failed")):
        _fail(f"job {name} {outcome}")
    click.echo(f"{name}: {outcome}")


@main.group()
def i18n() -> None:
    """Translation catalogs (fr, en, es, de)."""


@i18n.command("update")
def i18n_update() -> None:
    """Add new message ids to every catalog and drop obsolete ones."""
    from crm_app.platform.i18n import catalogs

    for locale, count in catalogs.update_catalogs().items():
        click.echo(f"{locale}: {count} new")


@i18n.command("check")
def i18n_check() -> None:
    """Exit 1 when a catalog misses a translation or has a fuzzy one."""
    from crm_app.platform.i18n import SUPPORTED_LOCALES, catalogs

    issues = [issue for locale in SUPPORTED_LOCALES for issue in catalogs.problems(locale)]
    for issue in issues:
        click.echo(issue, err=True)
    if issues:
        sys.exit(1)
    click.echo("catalogs complete")


if __name__ == "__main__":
    main()
