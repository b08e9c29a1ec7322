"""UI tests: NiceGUI's simulated user against the whole app and the real database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from crm_app.institutions import contacts
from crm_app.institutions import service as institutions
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.platform.models.people import User as UserRow
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from tests.factories import PASSWORD, actor_of, make_user


@pytest.fixture
async def ui_user(clean_db: None, user: User) -> AsyncIterator[User]:
    """The simulated browser; tables are emptied after the test, once the simulated browser is gone
    (`clean_db` is set up first, so torn down last): emptied while its screens were still open, a
    screen that re-checked its session found none and redirected to /login, and the user fixture's
    teardown could loop on that redirect for ever."""
    yield user


@pytest.fixture
def account() -> Callable[..., str]:
    """Create a committed account and return its email (password: tests.factories.PASSWORD)."""

    def create(role: Role = Role.USER, email: str = "claire@example.org", name: str = "Claire Dupont") -> str:
        with unit_of_work() as session:
            return make_user(session, role=role, email=email, name=name).email

    return create


async def log_in(user: User, email: str, password: str = PASSWORD, path: str = "/login") -> None:
    await user.open(path)
    user.find(marker="email").type(email)
    user.find(marker="password").type(password)
    user.find(marker="login").click()


def actor_for(email: str) -> Actor:
    """The acting user behind an account made with `account`, for building data through the services."""
    with unit_of_work() as session:
        return actor_of(session.exec(select(UserRow).where(UserRow.email == email)).one())


def new_institution(name: str, *, city: str = "Lyon", postal_code: str = "69003") -> uuid.UUID:
    with unit_of_work() as session:
        return institutions.create_institution(
            session, SYSTEM_ACTOR, {"name": name, "city": city, "postal_code": postal_code}, allow_duplicate=True
        ).id


def new_buyer(name: str, *, city: str = "Lyon", postal_code: str = "69003") -> uuid.UUID:
    """An institution that can be invoiced (a street and a SIRET: the e-invoice needs them)."""
    from tests.institution_factories import unique_siret

    with unit_of_work() as session:
        raw = {
            "name": name,
            "city": city,
            "postal_code": postal_code,
            "street": "1 rue de la Paix",
            "siret": unique_siret(),
        }
        return institutions.create_institution(session, SYSTEM_ACTOR, raw, allow_duplicate=True).id


def new_contact(institution_id: uuid.UUID, first: str, last: str, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return contacts.create_contact(
            session, SYSTEM_ACTOR, institution_id, {"first_name": first, "last_name": last, **values}
        ).id


def element(user: User, marker: str) -> Any:
    """The one element carrying `marker`."""
    return next(iter(user.find(marker=marker).elements))


def table_rows(user: User, marker: str) -> list[dict[str, Any]]:
    """The rows of the table carrying `marker`; none while it is not shown."""
    found = user._gather_elements(None, ui.table, marker, None)  # no public "find or none"
    return list(next(iter(found)).rows) if found else []


async def eventually(check: Callable[[], bool], what: str, *, attempts: int = 100) -> None:
    """Wait (up to 5 s) until `check()` holds, else fail saying `what` went wrong."""
    for _ in range(attempts):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


@dataclass(frozen=True)
class NavEntry:
    href: str
    text: str
    current: bool  # aria-current: the entry of the screen being shown


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.entries: list[NavEntry] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            href = self._open.get("href") or ""
            self.entries.append(NavEntry(href, data, self._open.get("aria-current") == "page"))
            self._open = None


def nav_entries(user: User) -> list[NavEntry]:
    """The drawer's entries as the tab shows them (components/shell.Navigation draws them as the
    links of one element)."""
    found: set[ui.html] = user._gather_elements(None, None, "navigation", None)
    parser = _Anchors()
    for nav in found:
        parser.feed(nav.content)
    return parser.entries


def nav_paths(user: User) -> list[str]:
    return [entry.href for entry in nav_entries(user)]


def click_nav(user: User, path: str) -> None:
    """Click the drawer's entry for `path`, as the simulated user clicks a link."""
    assert path in nav_paths(user), f"no entry for {path} in {nav_paths(user)}"
    user.navigate.to(path)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def breadcrumb(user: User) -> list[str]:
    """The breadcrumb's texts as the browser shows them, the screens above first, the current last
    (components/shell.Breadcrumb draws them as one element, escaped)."""
    found: set[ui.html] = user._gather_elements(None, None, "breadcrumb", None)
    parser = _Texts()
    for trail in found:
        parser.feed(trail.content)
    return parser.texts


def html_elements(user: User) -> list[ui.html]:
    """The elements that render HTML, but the drawer's menu and the breadcrumb (their texts are
    escaped by the shell): a screen that shows user text must have none."""
    found: set[ui.html] = user._gather_elements(None, ui.html, None, None)
    return [e for e in found if not {"navigation", "breadcrumb"} & set(e._markers)]
