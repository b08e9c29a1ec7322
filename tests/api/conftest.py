"""REST API tests run against the whole app in process (NiceGUI's simulation, real database)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from nicegui.testing import User

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.conftest import truncate_all
from tests.factories import make_user


@pytest.fixture
async def api(user: User) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the running app; tables are emptied after the test."""
    try:
        yield user.http_client
    finally:
        truncate_all()


@pytest.fixture
def account() -> dict[str, str]:
    """A committed sales rep account: email and password."""
    with unit_of_work() as session:
        created = make_user(session, role=Role.USER, email="rep@example.org", name="Rita Rep")
    from tests.factories import PASSWORD

    return {"email": created.email, "password": PASSWORD}
