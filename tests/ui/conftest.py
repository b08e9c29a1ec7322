"""UI tests: NiceGUI's simulated user against the whole app and the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from nicegui.testing import User

from crm_app.db import unit_of_work
from crm_app.models import Role
from tests.conftest import truncate_all
from tests.factories import PASSWORD, make_user


@pytest.fixture
async def ui_user(user: User) -> AsyncIterator[User]:
    """The simulated browser; tables are emptied after the test."""
    try:
        yield user
    finally:
        truncate_all()


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
