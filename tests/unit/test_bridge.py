"""Committed events reach the live listeners of this process and of another process (PostgreSQL
LISTEN/NOTIFY), never before the commit and never after a rollback."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crm_app.platform import bridge, events
from crm_app.platform.db import unit_of_work

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def received(clean_db: None) -> Iterator[queue.Queue[events.Event]]:
    got: queue.Queue[events.Event] = queue.Queue()
    remove = bridge.add_listener(got.put)
    bridge.start()
    try:
        yield got
    finally:
        remove()
        bridge.stop()


def _event(name: str = "Clinique du Pont") -> events.InstitutionAssigned:
    return events.InstitutionAssigned(institution_id=uuid.uuid4(), institution_name=name, assignee_id=uuid.uuid4())


def test_an_event_is_delivered_once_after_its_commit(received: queue.Queue[events.Event]) -> None:
    assert bridge.status() == "listening"
    sent = _event()
    with unit_of_work() as session:
        events.publish(session, sent)
        with pytest.raises(queue.Empty):
            received.get(timeout=0.3)  # not before the commit
    assert received.get(timeout=5) == sent
    with pytest.raises(queue.Empty):
        received.get(timeout=0.5)


def test_a_rolled_back_event_is_never_delivered(received: queue.Queue[events.Event]) -> None:
    with pytest.raises(RuntimeError), unit_of_work() as session:
        events.publish(session, _event())
        raise RuntimeError("the action failed")
    with pytest.raises(queue.Empty):
        received.get(timeout=1)


def test_an_event_committed_by_another_process_arrives(received: queue.Queue[events.Event]) -> None:
    institution_id = uuid.uuid4()
    script = textwrap.dedent(f"""
        import uuid
        from crm_app.platform import bridge, events
        from crm_app.platform.db import unit_of_work
        bridge.start()
        with unit_of_work() as session:
            events.publish(session, events.InstitutionAssigned(
                institution_id=uuid.UUID("{institution_id}"), institution_name="Hôpital d'en face",
                assignee_id=uuid.UUID("{uuid.UUID(int=7)}")))
        bridge.stop()
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, check=True, timeout=60)
    event = received.get(timeout=10)
    assert isinstance(event, events.InstitutionAssigned)
    assert (event.institution_id, event.institution_name, event.assignee_id) == (
        institution_id,
        "Hôpital d'en face",
        uuid.UUID(int=7),
    )


def test_events_keep_their_commit_order(received: queue.Queue[events.Event]) -> None:
    sent = [_event(f"Clinique {index}") for index in range(5)]
    for event in sent:
        with unit_of_work() as session:
            events.publish(session, event)
    assert [received.get(timeout=5) for _ in sent] == sent


def test_on_sqlite_events_go_to_this_process_after_the_commit(
    tmp_path: Path, settings_override: Callable[..., None]
) -> None:
    from crm_app.operations import migrate
    from crm_app.platform.db import dispose_engines

    settings_override(DATABASE_URL=f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    migrate.upgrade()
    got: queue.Queue[events.Event] = queue.Queue()
    remove = bridge.add_listener(got.put)
    bridge.start()
    try:
        sent = _event()
        with unit_of_work() as session:
            events.publish(session, sent)
            assert got.empty()
        assert got.get(timeout=1) == sent
        assert bridge.status() == "local"
    finally:
        remove()
        bridge.stop()
        dispose_engines()
