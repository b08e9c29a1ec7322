"""Each user's choice of the columns shown per list (crm_app.accounts.list_columns)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from crm_app.accounts import list_columns
from crm_app.accounts.models import ListColumns
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import ValidationFailed
from tests.factories import actor_of, make_user


def test_a_choice_is_kept_per_user_and_per_list_and_replaced_by_the_next(db: Session) -> None:
    claire = actor_of(make_user(db, email="claire@example.org"))
    hugo = actor_of(make_user(db, email="hugo@example.org"))
    assert list_columns.visible_columns(db, claire, "quotes") is None
    list_columns.save_visible_columns(db, claire, "quotes", ["number", "total_excl_vat", "number"])
    assert list_columns.visible_columns(db, claire, "quotes") == ("number", "total_excl_vat")
    list_columns.save_visible_columns(db, claire, "quotes", ["number", "status"])
    db.flush()
    assert list_columns.visible_columns(db, claire, "quotes") == ("number", "status")
    assert list_columns.visible_columns(db, claire, "invoices") is None
    assert list_columns.visible_columns(db, hugo, "quotes") is None


@pytest.mark.parametrize(
    ("list_key", "columns"),
    [("quotes", ["<script>"]), ("Quotes list", ["number"]), ("quotes", ["c" + str(i) for i in range(61)])],
)
def test_names_that_are_no_list_or_column_names_are_refused(db: Session, list_key: str, columns: list[str]) -> None:
    claire = actor_of(make_user(db, email="claire@example.org"))
    with pytest.raises(ValidationFailed):
        list_columns.save_visible_columns(db, claire, list_key, columns)


def test_two_saves_in_a_row_keep_the_last(db: Session) -> None:
    claire = actor_of(make_user(db, email="claire@example.org"))
    list_columns.save_visible_columns(db, claire, "quotes", ["number", "status"])
    list_columns.save_visible_columns(db, claire, "quotes", ["number", "total_excl_vat"])
    assert list_columns.visible_columns(db, claire, "quotes") == ("number", "total_excl_vat")
    assert db.exec(select(func.count()).select_from(ListColumns)).one() == 1


def test_two_saves_at_once_end_with_the_later_one_and_no_error(clean_db: None) -> None:
    """Two quick clicks (or two tabs): each save in its own unit of work, the second while the first is not
    yet committed. Reading the row then inserting made the second fail on the primary key."""
    with unit_of_work() as session:
        claire = actor_of(make_user(session, email="claire@example.org"))
    first_saved = threading.Event()
    errors: list[BaseException] = []

    def save(columns: list[str], *, first: bool) -> None:
        try:
            if not first:
                first_saved.wait(5)
            with unit_of_work() as session:
                list_columns.save_visible_columns(session, claire, "quotes", columns)
                session.flush()
                if first:
                    first_saved.set()
                    time.sleep(0.5)  # still uncommitted while the second saves
        except BaseException as error:
            errors.append(error)
        finally:
            first_saved.set()

    threads = [
        threading.Thread(target=save, args=(["number", "status"],), kwargs={"first": True}),
        threading.Thread(target=save, args=(["number", "total_excl_vat"],), kwargs={"first": False}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    with unit_of_work() as session:
        assert list_columns.visible_columns(session, claire, "quotes") == ("number", "total_excl_vat")
