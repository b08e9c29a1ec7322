"""The screens apply the rights of the record's own page: a rep of another team and a manager of another team
see neither a refused quote's comments nor, once a task went to another team, its title in their
notifications or the bell."""

from __future__ import annotations

import uuid

import pytest
from nicegui import ui
from nicegui.testing import User

from crm_app.activities import tasks
from crm_app.platform import comments
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role, Team
from tests.activity_factories import make_org, make_person, make_task
from tests.institution_factories import make_institution
from tests.sales_factories import make_sent_quote
from tests.ui.conftest import eventually, log_in, table_rows

SECRET_COMMENT = "Remise exceptionnelle de 12 % accordée"
SECRET_TASK = "Relancer la clinique au sujet de la remise"


def _world() -> tuple[uuid.UUID, dict[str, str]]:
    """Rep A's quote with a comment; a task given to rep B, on which rep B mentions their manager, then
    given to rep A. The quote's id and who → email."""
    with unit_of_work() as session:
        org = make_org(session)
        team_b = session.get(Team, org.rep_b.user.team_id)
        manager_b = make_person(session, role=Role.MANAGER, team=team_b, name="Marie Martin", email="mb@ex.org")
        quote = make_sent_quote(session, org.rep_a.actor, make_institution(session, org.admin.actor))
        comments.add_comment(session, org.rep_a.actor, "quote", quote.id, SECRET_COMMENT)
        task = make_task(session, org.admin.actor, title=SECRET_TASK, assignee_id=org.rep_b.id)
        comments.add_comment(session, org.rep_b.actor, "task", task.id, "@Marie Martin à voir")
    with unit_of_work() as session:
        tasks.update_task(session, org.admin.actor, task.id, {"assignee_id": org.rep_a.id}, expected_version=1)
    return quote.id, {"rep_b": org.rep_b.user.email, "manager_b": manager_b.user.email}


def _bell_count(user: User) -> str | None:
    bell = next(iter(user.find(marker="bell").elements))
    badge = next(child for child in bell.default_slot.children if isinstance(child, ui.badge))
    return badge.text if badge.visible else None


@pytest.mark.parametrize("reader", ["rep_b", "manager_b"])
async def test_a_refused_reader_sees_no_comment_nor_notification_of_the_record(ui_user: User, reader: str) -> None:
    quote_id, emails = _world()
    await log_in(ui_user, emails[reader], path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="not-allowed")  # the page asked for the quote and was refused
    await ui_user.should_not_see(SECRET_COMMENT)

    await ui_user.open("/notifications")
    await ui_user.should_see(marker="notifications-table")
    await eventually(lambda: _bell_count(ui_user) is None, "the bell counts a notification about the task")
    assert table_rows(ui_user, "notifications-table") == []
    await ui_user.should_not_see(SECRET_TASK)
