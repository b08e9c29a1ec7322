"""Plugins: found in PLUGIN_DIRECTORY or by entry point, enabled, handed the public events off the
caller's thread; a raising or slow plugin breaks nothing, is counted, and is disabled after repeated
failures with a notification; settings validated and stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from crm_app.institutions import service as institutions
from crm_app.integrations import plugin_host, plugin_state, plugins
from crm_app.integrations.plugin_host import Source
from crm_app.platform.db import unit_of_work
from crm_app.platform.errors import Conflict, NotFound, ValidationFailed
from crm_app.platform.i18n import use_locale
from crm_app.platform.models.notifications import Notification
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR, Actor
from tests.factories import actor_of, make_user
from tests.plugin_factories import RAISING, SLOW, event_body, kept, load_from, module_of, recorder, write_plugin


@pytest.fixture
def plugin_dir(tmp_path: Path, clean_db: None) -> Iterator[Path]:
    directory = tmp_path / "plugins"
    directory.mkdir()
    yield directory
    assert plugins.wait_until_idle(20)
    plugin_host.install([])


def _state(name: str) -> plugin_state.PluginState:
    with unit_of_work() as session:
        row = plugin_state.get_state(session, name)
        assert row is not None
        return row


def test_a_plugin_dropped_in_the_directory_is_found_enabled_and_receives_the_body(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "recorder", recorder())
    write_plugin(plugin_dir, "issued_only", recorder(("invoice.issued",)), package=True)
    found = load_from(plugin_dir, auto_enable=True)
    assert [(p.name, p.source, p.error) for p in found] == [
        ("issued_only", Source.DIRECTORY, None),
        ("recorder", Source.DIRECTORY, None),
    ]
    issued, paid = event_body("invoice.issued", number="FAC-2026-00001"), event_body("payment.recorded")
    started = time.monotonic()
    plugins.deliver(issued)
    plugins.deliver(paid)
    assert time.monotonic() - started < 0.5  # the caller only queues
    assert plugins.wait_until_idle(10)
    assert kept("recorder", "RECEIVED") == [issued, paid]
    assert kept("issued_only", "RECEIVED") == [issued]
    with unit_of_work() as session:
        views = {v.name: v for v in plugins.list_plugins(session, SYSTEM_ACTOR)}
    assert views["recorder"].version == "2.3.1"
    assert views["recorder"].summary == "Records the events it receives."
    assert "second paragraph" in views["recorder"].description
    assert (views["recorder"].is_enabled, views["recorder"].handled_count, views["recorder"].failed_count) == (
        True,
        2,
        0,
    )
    assert views["issued_only"].handled_count == 1
    assert views["issued_only"].events == ("invoice.issued",)


def test_found_plugins_start_disabled_without_auto_enable_and_enabling_takes_effect_at_once(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "recorder", recorder())
    load_from(plugin_dir, auto_enable=False)
    plugins.deliver(event_body())
    assert plugins.wait_until_idle(10)
    assert kept("recorder", "RECEIVED") == []
    with unit_of_work() as session:
        boss = actor_of(make_user(session, role=Role.SUPER_ADMIN))
        admin = actor_of(make_user(session, role=Role.ADMIN))
    with unit_of_work() as session, pytest.raises(Exception, match="not allowed"):
        plugins.set_plugin_enabled(session, admin, "recorder", True)
    with unit_of_work() as session:
        assert plugins.set_plugin_enabled(session, boss, "recorder", True).is_enabled
    body = event_body()
    plugins.deliver(body)
    assert plugins.wait_until_idle(10)
    assert kept("recorder", "RECEIVED") == [body]
    with unit_of_work() as session:
        assert not plugins.set_plugin_enabled(session, boss, "recorder", False).is_enabled
    plugins.deliver(event_body())
    assert plugins.wait_until_idle(10)
    assert kept("recorder", "RECEIVED") == [body]
    # A second start finds the row: the state survives, auto-enable applies to new plugins only.
    load_from(plugin_dir, auto_enable=True)
    assert not _state("recorder").is_enabled


def test_a_raising_plugin_breaks_nothing_and_is_disabled_after_repeated_failures(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "boom", RAISING)
    write_plugin(plugin_dir, "recorder", recorder())
    with unit_of_work() as session:
        boss = make_user(session, role=Role.SUPER_ADMIN, email="boss@example.org")
        make_user(session, role=Role.ADMIN, email="admin@example.org")
    load_from(plugin_dir)
    bodies = [event_body("task.created") for _ in range(plugins.FAILURES_BEFORE_DISABLE)]
    for body in bodies:
        plugins.deliver(body)  # never raises
    assert plugins.wait_until_idle(10)
    assert kept("recorder", "RECEIVED") == bodies
    assert kept("boom", "CALLS") == [b["id"] for b in bodies]
    row = _state("boom")
    assert (row.is_enabled, row.failed_count, row.handled_count) == (False, 5, 0)
    assert row.disabled_reason == plugins.DISABLED_REASON
    assert len(row.last_errors) == plugin_state.ERRORS_KEPT
    assert row.last_errors[0]["message"] == "RuntimeError: boom on task.created"
    assert row.last_errors[0]["event"] == "task.created"
    with unit_of_work() as session:
        sent = session.exec(select(Notification).where(Notification.kind == plugins.KIND_DISABLED)).all()
    assert [(n.recipient_id, n.params, n.link) for n in sent] == [
        (boss.id, {"name": "boom", "count": 5}, "/admin/plugins")
    ]
    # Disabled: it gets nothing more; the other one goes on.
    plugins.deliver(event_body())
    assert plugins.wait_until_idle(10)
    assert len(kept("boom", "CALLS")) == 5
    assert len(kept("recorder", "RECEIVED")) == 6
    assert _state("recorder").handled_count == 6


def test_one_success_resets_the_failures_in_a_row(plugin_dir: Path) -> None:
    write_plugin(
        plugin_dir,
        "flaky",
        '''
        """Fails on tasks only."""

        def setup(crm):
            def handler(body):
                if body["event"].startswith("task."):
                    raise ValueError("no tasks")

            crm.on("*", handler)
        ''',
    )
    load_from(plugin_dir)
    for event in ["task.created"] * 4 + ["invoice.issued"] + ["task.created"] * 4:
        plugins.deliver(event_body(event))
    assert plugins.wait_until_idle(10)
    row = _state("flaky")
    assert (row.is_enabled, row.failed_count, row.handled_count, row.consecutive_failures) == (True, 8, 1, 4)


def test_a_slow_plugin_is_cut_off_by_the_time_limit_and_delays_no_other(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugins, "HANDLER_TIME_LIMIT", 0.5)
    write_plugin(plugin_dir, "sleepy", SLOW)
    write_plugin(plugin_dir, "recorder", recorder())
    load_from(plugin_dir)
    release: threading.Event = module_of("sleepy").RELEASE
    try:
        first, second = event_body(), event_body()
        started = time.monotonic()
        plugins.deliver(first)
        plugins.deliver(second)
        deadline = started + 0.4
        while len(kept("recorder", "RECEIVED")) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert kept("recorder", "RECEIVED") == [first, second]  # before the slow one's limit
        assert plugins.wait_until_idle(10)
        row = _state("sleepy")
        assert (row.failed_count, row.handled_count) == (2, 0)
        assert row.last_errors[0]["message"] == "TimeoutError: no answer within 0.5 s"
        assert kept("sleepy", "STARTED") == [first["id"], second["id"]]  # the second was not held back
    finally:
        release.set()


def test_a_plugin_failing_to_import_or_set_up_is_listed_with_its_error(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "broken", "def setup(crm):\n    return (\n")
    write_plugin(plugin_dir, "angry", "def setup(crm):\n    raise RuntimeError('no database for me')\n")
    write_plugin(plugin_dir, "no_setup", '"""Nothing to set up."""\n')
    write_plugin(plugin_dir, "bad_event", "def setup(crm):\n    crm.on('Invoice Issued', print)\n")
    write_plugin(plugin_dir, "recorder", recorder())
    (plugin_dir / "notes.txt").write_text("not a plugin")
    (plugin_dir / "_private.py").write_text("raise SystemExit(1)")
    found = {p.name: p for p in load_from(plugin_dir)}
    assert set(found) == {"broken", "angry", "no_setup", "bad_event", "recorder"}
    assert found["broken"].error is not None and found["broken"].error.startswith("SyntaxError")
    assert found["angry"].error == "RuntimeError: no database for me"
    assert found["no_setup"].error == "no setup(crm) function"
    assert found["bad_event"].error is not None and "not an event name" in found["bad_event"].error
    assert found["recorder"].error is None
    with unit_of_work() as session:
        views = {v.name: v for v in plugins.list_plugins(session, SYSTEM_ACTOR)}
        assert views["angry"].load_error == "RuntimeError: no database for me"
        with pytest.raises(Conflict):
            plugins.set_plugin_enabled(session, SYSTEM_ACTOR, "angry", True)
        with pytest.raises(NotFound):
            plugins.get_plugin(session, SYSTEM_ACTOR, "missing")
    body = event_body()
    plugins.deliver(body)
    assert plugins.wait_until_idle(10)
    assert kept("recorder", "RECEIVED") == [body]


SETTINGS_PLUGIN = '''
"""Has settings."""

from crm_app.integrations.plugin_settings import Boolean, Choice, Integer, Text

SEEN = []


def _even(value):
    return None if value % 2 == 0 else {"en": "An even number, please.", "fr": "Un nombre pair, svp."}


def setup(crm):
    crm.settings(
        Text(name="journal", label={"en": "Journal", "fr": "Journal"}, default="VE", required=True,
             pattern="[A-Z]{2}", max_length=2),
        Integer(name="days", label="Days", default=30, minimum=1, maximum=90, validate=_even),
        Choice(name="format", label="Format", options={"tab": "Tab", "pipe": "Pipe"}, default="tab"),
        Boolean(name="active", label="Active", default=False),
    )
    crm.on("*", lambda body: SEEN.append((crm.setting("journal"), crm.setting("days"))))
'''


def test_the_settings_form_validates_and_stores(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "configured", SETTINGS_PLUGIN)
    load_from(plugin_dir)
    with unit_of_work() as session:
        boss = actor_of(make_user(session, role=Role.SUPER_ADMIN))
        form = plugins.get_plugin_settings(session, boss, "configured")
    assert [(f["name"], f["kind"]) for f in form.fields] == [
        ("journal", "text"),
        ("days", "integer"),
        ("format", "choice"),
        ("active", "boolean"),
    ]
    assert form.values == {"journal": "VE", "days": 30, "format": "tab", "active": False}
    with unit_of_work() as session, pytest.raises(ValidationFailed) as refused:
        plugins.update_plugin_settings(
            session,
            boss,
            "configured",
            {"journal": "ve", "days": 91, "format": "csv", "active": "maybe", "colour": "red"},
            expected_version=form.version,
        )
    assert refused.value.field_errors == {
        "journal": "This value does not have the expected format.",
        "days": "Enter a whole number within the allowed range.",
        "format": "Choose one of the offered values.",
        "active": "Choose yes or no.",
        "colour": "Unknown setting.",
    }
    with unit_of_work() as session, pytest.raises(ValidationFailed) as odd:
        plugins.update_plugin_settings(session, boss, "configured", {"days": 7, "journal": ""})
    # The plugin's own message in the reader's language (French by default); the CRM's are message ids.
    assert odd.value.field_errors == {"days": "Un nombre pair, svp.", "journal": "This field is required."}
    with use_locale("en"), unit_of_work() as session, pytest.raises(ValidationFailed) as odd:
        plugins.update_plugin_settings(session, boss, "configured", {"days": 7})
    assert odd.value.field_errors == {"days": "An even number, please."}
    with unit_of_work() as session:
        saved = plugins.update_plugin_settings(
            session, boss, "configured", {"journal": "BQ", "days": "14", "active": True}, expected_version=form.version
        )
    assert saved.values == {"journal": "BQ", "days": 14, "format": "tab", "active": True}
    assert _state("configured").settings == {"journal": "BQ", "days": 14, "active": True}
    with unit_of_work() as session, pytest.raises(Conflict):
        plugins.update_plugin_settings(session, boss, "configured", {"days": 2}, expected_version=form.version)
    plugins.deliver(event_body())
    assert plugins.wait_until_idle(10)
    assert kept("configured", "SEEN") == [("BQ", 14)]


def test_an_installed_entry_point_is_found(plugin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "opex_demo_plugin.py").write_text('"""Installed demo."""\n\ndef setup(crm):\n    crm.on("*", print)\n')
    info = site / "opex_demo_plugin-4.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: opex-demo-plugin\nVersion: 4.2\n")
    (info / "entry_points.txt").write_text("[opex_crm.plugins]\ndemo = opex_demo_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    write_plugin(plugin_dir, "recorder", recorder())
    found = {p.name: p for p in load_from(plugin_dir, entry_points=True)}
    assert found["demo"].source is Source.ENTRY_POINT
    assert (found["demo"].location, found["demo"].version, found["demo"].error) == ("opex_demo_plugin", "4.2", None)
    assert found["demo"].description == "Installed demo."
    assert found["recorder"].source is Source.DIRECTORY


def test_read_never_writes(plugin_dir: Path) -> None:
    write_plugin(plugin_dir, "recorder", recorder())
    load_from(plugin_dir)
    crm = plugin_host.find("recorder").crm  # type: ignore[union-attr]
    assert crm is not None

    def rename(session: Session, actor: Actor, new_name: str) -> Actor:
        row = plugin_state.get_state(session, "recorder")
        assert row is not None
        row.settings = {"changed": new_name}
        session.add(row)
        session.flush()
        return actor

    assert crm.read(rename, "x") is SYSTEM_ACTOR
    assert _state("recorder").settings == {}
    assert crm.api_version == plugin_host.API_VERSION


def test_a_committed_change_reaches_the_plugins_and_a_rolled_back_one_does_not(plugin_dir: Path) -> None:
    """The whole way, as wired by crm_app.bootstrap: a service's domain event, the public body built in
    its transaction, handed to the plugin after the commit."""
    write_plugin(plugin_dir, "created", recorder(("institution.created",)))
    load_from(plugin_dir, auto_enable=True)
    with unit_of_work() as session:
        boss = actor_of(make_user(session, role=Role.SUPER_ADMIN))
        made = institutions.create_institution(session, boss, {"name": "Clinique des Cèdres", "type": "private_clinic"})
        made_id = str(made.id)
    with pytest.raises(RuntimeError), unit_of_work() as session:
        institutions.create_institution(session, boss, {"name": "Jamais commitée", "type": "private_clinic"})
        raise RuntimeError("the user's action failed after the change")
    assert plugins.wait_until_idle(10)
    [body] = kept("created", "RECEIVED")
    assert (body["event"], body["data"]["id"], body["data"]["name"]) == (
        "institution.created",
        made_id,
        "Clinique des Cèdres",
    )
    assert body["actor"]["id"] == str(boss.id)


def test_with_no_plugin_listening_no_body_is_built(plugin_dir: Path) -> None:
    load_from(plugin_dir, auto_enable=True)  # an empty directory
    assert plugins.wanted_events() == frozenset()
    write_plugin(plugin_dir, "everything", RAISING)
    load_from(plugin_dir, auto_enable=False)
    assert plugins.wanted_events() is None  # a plugin listening to every event
