"""Alembic environment: the URL and the metadata come from the application."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import crm_app.tables  # noqa: F401 - registers every table on the metadata
from crm_app.platform.db import get_engine
from crm_app.platform.models.base import UTCDateTime

target_metadata = SQLModel.metadata
# SQLite cannot reflect an expression index; ours are PostgreSQL's alone (include_object below leaves
# them aside there): nothing to warn about.
warnings.filterwarnings("ignore", message="autogenerate skipping metadata-specified expression-based index")


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy ones so revisions do not import the app."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Trigram and other GIN indexes (named *_trgm, *_gin), and indexes over PostgreSQL functions (*_pg),
    exist on PostgreSQL only (SQLite answers the same queries without them)."""
    if type_ == "index" and name and name.endswith(("_trgm", "_gin", "_pg")):
        return context.get_bind().dialect.name == "postgresql"
    return True


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
    )


@contextlib.contextmanager
def _sqlite_foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """SQLite alters a table by copying it into a new one and dropping the old (batch mode). With
    foreign keys enforced, that drop deletes the children of every row (ON DELETE CASCADE), unlinks
    them (SET NULL) or is refused (RESTRICT). So, as SQLite's documentation prescribes for such
    changes, enforcement is off while the migrations run (the pragma only takes effect outside a
    transaction), every reference is checked before they are committed, and it is back on after."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    connection.commit()  # the pragma is ignored inside a transaction
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    except BaseException:
        connection.rollback()
        raise
    else:
        connection.commit()  # what the migrations did, before enforcement can come back
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"the migrations left rows whose references are broken: {broken[:5]}")


def _run(connection: Connection) -> None:
    _configure(connection)
    with _sqlite_foreign_keys_deferred(connection):
        with context.begin_transaction():
            context.run_migrations()
            _check_foreign_keys(connection)


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine().connect() as connection:
        _run(connection)


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported: run `opex-crm db upgrade` against the database.")
run_migrations_online()
