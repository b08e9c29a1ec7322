"""Migrations: upgrade → downgrade → upgrade on PostgreSQL and SQLite; models and migrations agree."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from crm_app.operations import migrate
from crm_app.platform.db import get_engine
from tests.postgres import PostgresServer

EXPECTED_TABLES = {
    "users",
    "teams",
    "auth_sessions",
    "refresh_tokens",
    "login_attempts",
    "security_events",
    "institutions",
    "institution_medical_profiles",
    "institution_labels",
    "contacts",
    "saved_views",
    "list_columns",
    "audit_entries",
    "tasks",
    "notes",
    "note_shares",
    "meetings",
    "meeting_participants",
    "calls",
    "comments",
    "notifications",
    "task_alerts_sent",
    "mail_outbox",
    "mail_attachments",
    "account_tokens",
    "api_tokens",
    "rate_limit_counters",
    "app_settings",
    "catalog_items",
    "quotes",
    "quote_lines",
    "quote_reminders",
    "document_sequences",
    "stored_documents",
    "invoices",
    "invoice_lines",
    "payments",
    "invoice_reminders",
    "institution_search",
    "institution_label_order",
    "job_runs",
    "opportunities",
    "opportunity_stage_changes",
    "opportunity_lost_reasons",
    "analytics_daily",
    "analytics_first_invoices",
    "plugins",
    "webhooks",
    "webhook_deliveries",
}


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(
    request: pytest.FixtureRequest, pg_server: PostgresServer, tmp_path: Path, settings_override
) -> Iterator[str]:
    if request.param == "postgresql":
        url = pg_server.create_database("opex_migrations")
        settings_override(database_url=url.render_as_string(hide_password=False))
        yield url.render_as_string(hide_password=False)
        from crm_app.platform.db import dispose_engines

        dispose_engines()
        pg_server.drop_database(url)
    else:
        url_text = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        settings_override(database_url=url_text)
        yield url_text


def _tables() -> set[str]:
    return set(inspect(get_engine()).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    migrate.upgrade()
    assert _tables() == EXPECTED_TABLES
    assert migrate.is_up_to_date()
    migrate.check()  # raises when the models and the migrations differ
    migrate.downgrade("base")
    assert _tables() == set()
    assert migrate.current_revision() is None
    migrate.upgrade()
    assert _tables() == EXPECTED_TABLES
    migrate.check()


def _cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crm_app.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        timeout=120,
        check=False,
    )


def test_db_commands(empty_database: str) -> None:
    history = _cli("db", "history", database_url=empty_database).stdout
    assert all(revision in history for revision in ("0001", "0002", "0003"))
    assert _cli("db", "current", database_url=empty_database).stdout.startswith("base")
    assert _cli("db", "upgrade", database_url=empty_database).returncode == 0
    current = _cli("db", "current", database_url=empty_database)
    assert current.stdout.strip().endswith("(head)")
    check = _cli("db", "check", database_url=empty_database)
    assert check.returncode == 0, check.stderr
    assert "models and migrations match" in check.stdout
    assert _cli("db", "downgrade", "base", database_url=empty_database).returncode == 0
    failing = _cli("db", "check", database_url=empty_database)
    assert failing.returncode == 1  # a database behind the models is a difference too


def test_trigram_search_index_exists_on_postgresql_only(empty_database: str) -> None:
    migrate.upgrade()
    indexes = {index["name"] for index in inspect(get_engine()).get_indexes("institutions")}
    assert ("ix_institutions_search_trgm" in indexes) is empty_database.startswith("postgresql")
    assert "uq_institutions_finess" in indexes


def test_names_of_noise_words_only_get_their_duplicate_key(empty_database: str) -> None:
    from crm_app.institutions import service as institutions
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.permissions import SYSTEM_ACTOR

    migrate.upgrade()
    with unit_of_work() as session:
        institutions.create_institution(session, SYSTEM_ACTOR, {"name": "CHU"})
        institutions.create_institution(session, SYSTEM_ACTOR, {"name": "Clinique Pasteur"})
    with get_engine().begin() as connection:  # as the code before 0013 stored them
        connection.execute(text("UPDATE institutions SET match_key = '' WHERE name = 'CHU'"))
    migrate.downgrade("0012")
    migrate.upgrade()
    with get_engine().connect() as connection:
        keys: dict[str, str] = dict(connection.execute(text("SELECT name, match_key FROM institutions")).all())
    assert keys == {"CHU": "chu", "Clinique Pasteur": "pasteur"}


def _count(table: str) -> int:
    with get_engine().connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - a table name of the test


def test_an_upgrade_keeps_the_rows_of_the_tables_it_rebuilds(empty_database: str) -> None:
    """SQLite alters a table by copying it into a new one and dropping the old: with foreign keys on,
    that drop deleted its children (ON DELETE CASCADE) or unlinked them (SET NULL). 0017 rebuilds the
    quotes (whose lines cascade) and 0018 the opportunities (whose stage history cascades)."""
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.models.people import Role
    from tests.factories import actor_of, make_user
    from tests.institution_factories import make_institution
    from tests.sales_factories import make_opportunity, make_quote, quote_line

    migrate.upgrade()
    with unit_of_work() as session:
        seller = actor_of(make_user(session, role=Role.USER))
        clinic = make_institution(session, name="Clinique des Lilas")
        make_quote(session, seller, clinic, [quote_line(), quote_line("Maintenance")])
    migrate.downgrade("0016")
    migrate.upgrade()
    assert _count("quote_lines") == 2

    with unit_of_work() as session:
        seller = actor_of(make_user(session, role=Role.USER))
        clinic = make_institution(session, name="Clinique des Tilleuls")
        make_opportunity(session, seller, clinic, name="Colonne d'endoscopie")
    assert _count("opportunity_stage_changes") == 1
    migrate.downgrade("0017")
    migrate.upgrade()
    assert _count("opportunity_stage_changes") == 1
    assert _count("quote_lines") == 2
    if empty_database.startswith("sqlite"):  # the pooled connection has its foreign keys back
        with get_engine().connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
