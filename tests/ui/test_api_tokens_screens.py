"""Personal API tokens on screen: created on /profile (checked next to the fields, shown once, usable),
listed with their last use, revoked with confirmation; an administrator revokes a user's token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from nicegui.testing import User
from sqlmodel import select

from crm_app.accounts.models import ApiToken
from crm_app.integrations import api_tokens
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import NotAuthenticated
from crm_app.platform.i18n import gettext, use_locale
from crm_app.platform.models.people import Role
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows


def _tokens() -> list[ApiToken]:
    with unit_of_work() as session:
        return list(session.exec(select(ApiToken)).all())


def _fr(message: str) -> str:
    """What the screen shows (in French, the default language)."""
    with use_locale("fr"):
        return gettext(message)


def _works(token: str) -> bool:
    try:
        api_tokens.authenticate(token)
    except NotAuthenticated:
        return False
    return True


async def test_a_token_is_created_shown_once_listed_and_revoked_on_the_profile(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    await log_in(ui_user, email, path="/login?redirect_to=/profile")
    await ui_user.should_see(marker="new-token")
    await ui_user.should_see(marker="api-tokens-empty")
    ui_user.find(marker="new-token").click()
    await ui_user.should_see(marker="token-dialog")
    await ui_user.should_not_see(marker="scope-admin")  # a sales rep administers nothing
    element(ui_user, "token-expires").value = (date.today() + timedelta(days=500)).isoformat()
    ui_user.find(marker="token-create").click()
    await eventually(lambda: element(ui_user, "token-name").error is not None, "the empty name was not refused")
    assert element(ui_user, "token-expires").error == _fr("A token lasts at most one year.")
    assert element(ui_user, "token-scopes-error").text == _fr("Choose at least one scope.")
    assert _tokens() == []

    ui_user.find(marker="token-name").type("Zapier")
    element(ui_user, "scope-institutions:read").value = True
    element(ui_user, "scope-quotes:write").value = True
    element(ui_user, "token-expires").value = (date.today() + timedelta(days=30)).isoformat()
    ui_user.find(marker="token-create").click()
    await ui_user.should_see(marker="token-shown")
    await ui_user.should_see(_fr("Copy it now: it is shown this once and cannot be read again. Keep it secret."))
    token = element(ui_user, "token-value").value
    assert token.startswith("opx_") and _works(token)
    [stored] = _tokens()
    assert (stored.name, stored.scopes) == ("Zapier", ["institutions:read", "quotes:write"])
    assert stored.expires_at.date() >= date.today() + timedelta(days=30)
    ui_user.find(marker="token-done").click()
    await ui_user.should_see("Zapier · " + token[:12] + "…")
    await ui_user.should_see(
        ", ".join(_fr(a) + " · " + _fr(b) for a, b in (("Institutions", "Read"), ("Quotes", "Write")))
    )
    await ui_user.should_not_see(token)  # only the prefix remains on screen

    ui_user.find(marker="revoke-token").click()
    await ui_user.should_see(marker="confirm-dialog")
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(marker="api-tokens-empty")
    assert not _works(token)


async def test_an_admin_sees_and_revokes_a_users_token(ui_user: User, account: Callable[..., str]) -> None:
    rep = account(email="rita@example.org", name="Rita Rep")
    with unit_of_work() as session:
        created = api_tokens.create_token(session, actor_for(rep), name="n8n", scopes=["contacts:read"])
    await log_in(ui_user, account(role=Role.ADMIN, email="admin@example.org"), path="/login?redirect_to=/admin/users")
    await ui_user.should_see(marker="user-search")
    ui_user.find(marker="user-search").type("rita")
    await eventually(lambda: len(table_rows(ui_user, "users-table")) == 1, "the search did not find Rita")
    [row] = table_rows(ui_user, "users-table")
    ui_user.find(marker="users-table").trigger("manage", row["id"])
    await ui_user.should_see(marker="user-api-tokens")
    await ui_user.should_see("n8n · " + created.row.prefix + "…")
    ui_user.find(marker="revoke-token").click()
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(marker="user-api-tokens-empty")
    assert not _works(created.token)
