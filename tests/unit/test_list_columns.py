"""Each user's choice of the columns shown per list (crm_app.accounts.list_columns)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from crm_app.accounts import list_columns
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
