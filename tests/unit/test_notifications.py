"""The notification centre and the event bus: stored per user, listed, counted, marked read; events
delivered to subscribers in the unit of work and to after-commit listeners only after a commit."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from sqlmodel import Session

from crm_app.activities import tasks
from crm_app.institutions import service as institutions
from crm_app.platform import comments, events, notifications
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import use_locale
from crm_app.platform.models.people import Role, Team
from crm_app.platform.paging import PageRequest
from tests.activity_factories import Org, Person, make_org, make_person, make_task, notifications_of
from tests.institution_factories import make_institution


@pytest.fixture
def org(db: Session) -> Org:
    return make_org(db)


@pytest.fixture
def committed() -> Iterator[list[events.Event]]:
    """The events that after-commit listeners receive during the test."""
    received: list[events.Event] = []
    remove = events.on_commit(received.append)
    try:
        yield received
    finally:
        remove()


def _notify(db: Session, recipient: Person, title: str = "Call back", actor: uuid.UUID | None = None) -> None:
    """A notification about a task of the recipient's (one about a record they may not open is not shown)."""
    notifications.notify(
        db,
        [recipient.id],
        kind="task.due_soon",
        params={"title": title},
        record_kind="task",
        record_id=make_task(db, recipient.actor, title=title).id,
        actor_id=actor,
    )


# --------------------------------------------------------------------------------------------
# The notification centre


def test_notifications_are_listed_newest_first_and_paged(db: Session, org: Org, clock: Callable[..., datetime]) -> None:
    for title in ("First", "Second", "Third"):
        _notify(db, org.rep_a, title)
        clock(seconds=1)
    _notify(db, org.rep_b, "Someone else's")
    page = notifications.list_notifications(db, org.rep_a.actor, request=PageRequest(1, 2))
    assert page.total == 3 and [n.params["title"] for n in page.items] == ["Third", "Second"]
    with use_locale("en"):
        assert (
            notifications.list_notifications(db, org.rep_a.actor).items[0].title
            == "The task “Third” is due within 24 hours"
        )
    assert page.items[0].link is not None and page.items[0].link.startswith("/tasks/")


def test_unread_count_mark_read_and_mark_all_read(db: Session, org: Org, committed: list[events.Event]) -> None:
    for title in ("One", "Two", "Three"):
        _notify(db, org.rep_a, title)
    assert notifications.unread_count(db, org.rep_a.actor) == 3
    newest = notifications.list_notifications(db, org.rep_a.actor).items[0]
    row = notifications.mark_read(db, org.rep_a.actor, newest.id)
    assert row.is_read and notifications.unread_count(db, org.rep_a.actor) == 2
    assert notifications.mark_read(db, org.rep_a.actor, newest.id).read_at == row.read_at  # idempotent
    unread = notifications.list_notifications(db, org.rep_a.actor, unread_only=True)
    assert unread.total == 2 and newest.id not in {n.id for n in unread.items}
    assert notifications.mark_all_read(db, org.rep_a.actor) == 2
    assert notifications.unread_count(db, org.rep_a.actor) == 0
    assert notifications.mark_all_read(db, org.rep_a.actor) == 0
    assert notifications.list_notifications(db, org.rep_a.actor).total == 3


def test_nobody_reads_or_marks_someone_elses_notifications(db: Session, org: Org) -> None:
    _notify(db, org.rep_a)
    [mine] = notifications.list_notifications(db, org.rep_a.actor).items
    with pytest.raises(NotFound):
        notifications.mark_read(db, org.rep_b.actor, mine.id)
    assert notifications.mark_all_read(db, org.rep_b.actor) == 0
    assert notifications.unread_count(db, org.rep_a.actor) == 1


def test_the_actor_and_inactive_users_are_never_notified(db: Session, org: Org) -> None:
    gone = make_person(db, role=Role.USER)
    gone.user.is_active = False
    db.add(gone.user)
    created = notifications.notify(
        db,
        [org.rep_a.id, org.rep_b.id, gone.id, None, org.rep_b.id],
        kind="task.overdue",
        params={"title": "x"},
        actor_id=org.rep_a.id,
    )
    assert [n.recipient_id for n in created] == [org.rep_b.id]


def test_titles_are_translated_for_the_reader_and_unknown_kinds_fall_back() -> None:
    params = {"actor": "Marc", "title": "Relance", "status": "done", "status_label": "Done"}
    with use_locale("en"):
        assert notifications.render_title("task.status_changed", params) == "Marc moved your task “Relance” to Done"
    assert notifications.render_title("kind.nobody.registered", {"title": "DEV-2026-00001"}) == "DEV-2026-00001"
    with use_locale("en"):  # a param missing from an old row never raises
        assert notifications.render_title("task.assigned", {}) == "{actor} assigned you the task “{title}”"


def test_assigning_an_institution_tells_the_new_assignee_not_the_actor(db: Session, org: Org) -> None:
    institution = make_institution(db, org.admin.actor, assigned_to=org.rep_a.user, name="Clinique du Parc")
    [notification] = notifications_of(db, org.rep_a)
    assert notification.kind == "institution.assigned"
    assert notification.link == f"/institutions/{institution.id}"
    assert notification.params == {"actor": "Ada Admin", "name": "Clinique du Parc"}
    institutions.bulk_assign(db, org.admin.actor, [institution.id], org.rep_a2.id)
    assert [n.kind for n in notifications_of(db, org.rep_a2)] == ["institution.assigned"]
    unassigned = make_institution(db, org.rep_b.actor)
    institutions.update_institution(
        db, org.rep_b.actor, unassigned.id, {"assigned_user_id": org.rep_b.id}, expected_version=1
    )  # taking it for oneself
    assert notifications_of(db, org.rep_b) == []


def test_read_notifications_older_than_the_retention_are_purged(
    db: Session, org: Org, clock: Callable[..., datetime]
) -> None:
    _notify(db, org.rep_a, "Old read")
    _notify(db, org.rep_a, "Old unread")
    old_read = next(
        n for n in notifications.list_notifications(db, org.rep_a.actor).items if n.params["title"] == "Old read"
    )
    notifications.mark_read(db, org.rep_a.actor, old_read.id)
    clock(days=179)
    _notify(db, org.rep_a, "Recent read")
    recent = notifications.list_notifications(db, org.rep_a.actor).items[0]
    notifications.mark_read(db, org.rep_a.actor, recent.id)
    assert notifications.purge_read(db) == 0
    clock(days=2)
    assert notifications.purge_read(db) == 1
    assert {n.params["title"] for n in notifications.list_notifications(db, org.rep_a.actor).items} == {
        "Old unread",
        "Recent read",
    }


# --------------------------------------------------------------------------------------------
# The event bus


def test_subscribers_run_in_the_unit_of_work_and_after_commit_listeners_only_after_the_commit(
    clean_db: None, committed: list[events.Event]
) -> None:
    with unit_of_work() as session:
        manager = make_person(session, role=Role.ADMIN, name="Maud Admin")
        rep = make_person(session, name="Rémi Rep")
        make_task(session, manager.actor, title="Visit", assignee_id=rep.id)
        assert committed == []  # not yet committed
        assert [e.name for e in events.pending(session)] == ["notification.created", "task.assigned", "task.changed"]
    # Subscribers run first (the notification is created inside task.assigned's publication).
    assert [e.name for e in committed] == ["notification.created", "task.assigned", "task.changed"]
    created = committed[0]
    assert isinstance(created, events.NotificationCreated) and created.recipient_id == rep.id


def test_a_rolled_back_unit_of_work_delivers_nothing(clean_db: None, committed: list[events.Event]) -> None:
    with pytest.raises(RuntimeError), unit_of_work() as session:
        admin = make_person(session, role=Role.ADMIN)
        rep = make_person(session)
        make_task(session, admin.actor, assignee_id=rep.id)
        raise RuntimeError("the action fails after publishing")
    assert committed == []
    with unit_of_work() as session:
        make_person(session)  # a later commit does not deliver the forgotten events either
    assert committed == []


def _changed() -> events.QuoteChanged:
    return events.QuoteChanged(quote_id=uuid.uuid4(), institution_id=uuid.uuid4(), owner_id=uuid.uuid4(), team_id=None)


def test_a_savepoint_delivers_nothing_before_the_real_commit(committed: list[events.Event]) -> None:
    """Releasing a savepoint (a year's first invoice number takes one) is no commit: the events wait."""
    before, inside = _changed(), _changed()
    with pytest.raises(RuntimeError), unit_of_work() as session:
        events.publish(session, before)
        with session.begin_nested():
            events.publish(session, inside)
        assert committed == [] and events.pending(session) == (before, inside)
        raise RuntimeError("the action fails after the savepoint")
    assert committed == []
    with unit_of_work() as session:
        events.publish(session, before)
        with session.begin_nested():
            events.publish(session, inside)
    assert committed == [before, inside]


def test_a_savepoint_rolled_back_takes_back_only_its_own_events(committed: list[events.Event]) -> None:
    before, inside, after = _changed(), _changed(), _changed()
    with unit_of_work() as session:
        events.publish(session, before)
        with pytest.raises(RuntimeError), session.begin_nested():
            events.publish(session, inside)
            raise RuntimeError("the savepoint's work fails; the unit of work goes on")
        events.publish(session, after)
    assert committed == [before, after]


def test_a_failing_listener_does_not_stop_the_others(clean_db: None, committed: list[events.Event]) -> None:
    def broken(event: events.Event) -> None:
        raise ValueError("push failed")

    remove = events.on_commit(broken)
    try:
        with unit_of_work() as session:
            admin = make_person(session, role=Role.ADMIN)
            rep = make_person(session)
            tasks.create_task(session, admin.actor, {"title": "x", "assignee_id": rep.id})
    finally:
        remove()
    assert len(committed) == 3


def test_events_travel_as_json_payloads() -> None:
    event = events.MeetingInvited(
        meeting_id=uuid.uuid4(),
        title="Démo",
        starts_at=datetime.fromisoformat("2026-03-05T13:30:00+00:00"),
        user_ids=(uuid.uuid4(), uuid.uuid4()),
        actor_id=uuid.uuid4(),
    )
    payload = events.to_payload(event)
    assert payload["name"] == "meeting.invited" and payload["data"]["title"] == "Démo"
    assert events.from_payload(payload) == event
    changed = _changed()
    assert events.from_payload(events.to_payload(changed)) == changed  # fields of the base class included
    with pytest.raises(ValueError, match="unknown event"):
        events.from_payload({"name": "nope", "data": {}})


def test_subscribe_and_unsubscribe(db: Session, org: Org) -> None:
    seen: list[events.TaskAssigned] = []

    def handler(session: Session, event: events.TaskAssigned) -> None:
        seen.append(event)

    events.subscribe(events.TaskAssigned, handler)
    try:
        make_task(db, org.manager_a.actor, assignee_id=org.rep_a.id)
    finally:
        events.unsubscribe(events.TaskAssigned, handler)
    make_task(db, org.manager_a.actor, assignee_id=org.rep_a.id)
    assert len(seen) == 1 and seen[0].assignee_id == org.rep_a.id


def test_a_notification_about_a_record_the_reader_may_no_longer_open_is_not_shown(db: Session, org: Org) -> None:
    """Rep B is given a task and mentions their manager in a comment on it; once the task is reassigned to
    team A, neither of them reads its title anywhere: not in the list, the bell's count, nor by marking
    it read."""
    manager_b = make_person(db, role=Role.MANAGER, team=db.get(Team, org.rep_b.user.team_id), name="Marie Martin")
    task = make_task(db, org.admin.actor, title="Relancer la clinique secrète", assignee_id=org.rep_b.id)
    comments.add_comment(db, org.rep_b.actor, "task", task.id, "@Marie Martin à voir")
    readers = (org.rep_b, manager_b)
    before = {person.id: notifications.list_notifications(db, person.actor).items for person in readers}
    assert all(len(rows) == 1 and rows[0].record_id == task.id for rows in before.values())
    assert notifications.unread_count(db, manager_b.actor) == 1

    tasks.update_task(db, org.admin.actor, task.id, {"assignee_id": org.rep_a.id}, expected_version=task.version)

    for person in readers:
        shown = notifications.list_notifications(db, person.actor)
        assert shown.total == 0 and shown.items == []
        assert notifications.list_notifications(db, person.actor, unread_only=True).total == 0
        assert notifications.unread_count(db, person.actor) == 0
        with pytest.raises(NotFound):
            notifications.mark_read(db, person.actor, before[person.id][0].id)
        assert notifications.mark_all_read(db, person.actor) == 0
    # Who may open the task still reads about it.
    [assigned] = notifications.list_notifications(db, org.rep_a.actor).items
    assert assigned.record_id == task.id and assigned.params["title"] == "Relancer la clinique secrète"
