"""/notes with NiceGUI's simulated user: a note shared by name is seen by that user only, hostile text
stays text, and a save over someone else's newer version is refused with their name."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from components.note_dialog import NoteMarkdown
from crm_app.activities import notes
from crm_app.activities.models import Note, NoteShare
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext, ngettext
from crm_app.platform.permissions import Actor
from tests.html_checks import runnable_parts
from tests.ui.conftest import actor_for, element, eventually, html_elements, log_in, table_rows


def _note(actor: Actor, body: str, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        return notes.create_note(session, actor, {"body": body, **values}).id


def _texts(user: User) -> list[str]:
    return [row["text"] for row in table_rows(user, "notes-table")]


async def test_a_note_shared_with_one_user_is_seen_by_them_and_not_by_another(
    ui_user: User, create_user: Callable[[], User], account: Callable[..., str]
) -> None:
    author = account(email="claire@example.org", name="Claire Dupont")
    reader = account(email="bruno@example.org", name="Bruno Blanc")
    outsider = account(email="alice@example.org", name="Alice Martin")
    _note(actor_for(outsider), "Note d'Alice")  # private: nobody else sees it
    await log_in(ui_user, author, path="/login?redirect_to=/notes")
    await ui_user.should_see(marker="new-note")
    ui_user.find(marker="new-note").click()
    await ui_user.should_see(marker="note-dialog")
    ui_user.find(marker="note-body").type("Budget 2027 du bloc\n- endoscopes\n- colonnes")
    ui_user.find(marker="share-user").click()
    ui_user.find("Bruno Blanc").click()
    ui_user.find(marker="share-add").click()
    await ui_user.should_see(marker=f"share-{actor_for(reader).id}")
    ui_user.find(marker="note-save").click()
    await eventually(lambda: _texts(ui_user) == ["Budget 2027 du bloc"], "the author does not see the note")
    with unit_of_work() as session:
        note = session.exec(select(Note).where(Note.created_by == actor_for(author).id)).one()
        shares = session.exec(select(NoteShare)).all()
    assert note.visibility == "private"
    assert [(s.note_id, s.user_id, s.can_write) for s in shares] == [(note.id, actor_for(reader).id, False)]

    bruno = create_user()
    await log_in(bruno, reader, path="/login?redirect_to=/notes?scope=shared_with_me")
    await eventually(lambda: _texts(bruno) == ["Budget 2027 du bloc"], "the reader does not see the note shared")
    bruno.find(marker="notes-table").trigger("open", str(note.id))
    await bruno.should_see(marker="note-text")
    await bruno.should_not_see(marker="note-save")  # shared for reading only
    await bruno.should_not_see(marker="note-delete")

    alice = create_user()
    await log_in(alice, outsider, path="/login?redirect_to=/notes")
    await eventually(lambda: _texts(alice) == ["Note d'Alice"], "the outsider's list is not shown")
    await alice.open("/notes?scope=shared_with_me")
    await eventually(
        lambda: _texts(alice) == [] and bool(alice._gather_elements(None, ui.table, "notes-table", None)),
        "the outsider sees a note that was not shared with her",
    )


async def test_a_note_one_may_not_read_says_so_on_its_screen(ui_user: User, account: Callable[..., str]) -> None:
    alice = account(email="alice@example.org", name="Alice Martin")
    private = _note(actor_for(alice), "Note d'Alice")  # private: nobody else reads it
    await log_in(ui_user, account(), path=f"/login?redirect_to=/notes/{private}")
    # not an empty screen with a passing toast: a message that stays
    await ui_user.should_see(marker="record-unavailable", retries=50)
    await ui_user.should_see(gettext("This record cannot be shown: it does not exist, or you may not open it."))
    await ui_user.should_not_see("Note d'Alice")
    await ui_user.should_not_see(marker="note-text")


async def test_hostile_note_text_is_shown_as_text(ui_user: User, account: Callable[..., str]) -> None:
    email = account()
    hostile = (
        '<script>alert("x")</script> <img src=x onerror=alert(1)> **gras**\n\n'
        '[lien](javascript:alert(1)) <a href="https://evil.example">clic</a>\n- un\n- deux'
    )
    note_id = _note(actor_for(email), hostile)
    await log_in(ui_user, email, path="/login?redirect_to=/notes")
    await eventually(
        lambda: _texts(ui_user) == ['<script>alert("x")</script> <img src=x onerror=alert(1)> **gras**'],
        "the list does not show the text as typed",
    )
    await ui_user.open(f"/notes/{note_id}")
    await ui_user.should_see(marker="note-text")
    shown = element(ui_user, "note-text")
    assert isinstance(shown, NoteMarkdown)
    html = shown.props["innerHTML"]
    assert "&lt;script&gt;alert(" in html and "<script" not in html
    assert "&lt;img src=x" in html and "<img" not in html
    assert "&lt;a href=" in html and '<a href="https://evil.example"' not in html
    assert "javascript:" not in html
    assert "<strong>gras</strong>" in html and "<li>un</li>" in html  # markdown still works
    assert not html_elements(ui_user)  # nothing rendered as HTML


async def test_the_list_shows_each_note_in_its_markdown_and_nothing_typed_in_it_runs(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    _note(
        actor_for(email),
        '**Budget** du bloc\n- endoscopes\n- colonnes\n<script>alert("x")</script>\n'
        '<img src=x onerror=alert(1)> [lien](javascript:alert(1)) ![i](x" onerror="alert(2))',
    )
    _note(actor_for(email), "Appel rapide")
    await log_in(ui_user, email, path="/login?redirect_to=/notes")
    await eventually(lambda: len(table_rows(ui_user, "notes-table")) == 2, "the notes are not listed")
    rows = {row["text"]: row for row in table_rows(ui_user, "notes-table")}
    html = rows["**Budget** du bloc"]["html"]
    assert "<strong>Budget</strong>" in html and "<li>endoscopes</li>" in html  # rendered, not raw
    assert "<script" not in html and "&lt;script&gt;" in html  # shown as typed, inert
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html and runnable_parts(html) == []
    assert runnable_parts('<img src="x" onerror="alert(1)"><a href="javascript:alert(1)">x</a>')  # the check sees
    assert rows["**Budget** du bloc"]["long"] and not rows["Appel rapide"]["long"]  # "Show more" on long ones
    assert rows["Appel rapide"]["html"].strip() == "<p>Appel rapide</p>"


async def test_saving_over_a_newer_version_names_who_changed_it(ui_user: User, account: Callable[..., str]) -> None:
    email = account(email="claire@example.org", name="Claire Dupont")
    colleague = account(email="marc@example.org", name="Marc Leroy")
    note_id = _note(
        actor_for(email), "Première version", shares=[{"user_id": actor_for(colleague).id, "can_write": True}]
    )
    await log_in(ui_user, email, path="/login?redirect_to=/notes")
    await eventually(lambda: _texts(ui_user) == ["Première version"], "note not listed")
    ui_user.find(marker="notes-table").trigger("open", str(note_id))
    await ui_user.should_see(marker="note-body")
    with unit_of_work() as session:  # Marc saves first
        notes.update_note(session, actor_for(colleague), note_id, {"body": "Version de Marc"}, expected_version=1)
    ui_user.find(marker="note-body").clear().type("Ma version")
    ui_user.find(marker="note-save").click()
    await ui_user.should_see(marker="note-reload")
    await ui_user.should_see(
        gettext(
            "{name} changed this note in the meantime. Your text is kept here: copy what "
            "you need, then load their version.",
            name="Marc Leroy",
        )
    )
    assert element(ui_user, "note-body").value == "Ma version"  # nothing lost
    with unit_of_work() as session:
        assert session.get(Note, note_id).body == "Version de Marc"  # type: ignore[union-attr]
    ui_user.find(marker="note-reload").click()
    await eventually(lambda: element(ui_user, "note-body").value == "Version de Marc", "their version was not loaded")
    ui_user.find(marker="note-body").clear().type("Version fusionnée")
    ui_user.find(marker="note-save").click()
    await eventually(lambda: _texts(ui_user) == ["Version fusionnée"], "the second save did not go through")


def _shown_text(user: User) -> str:
    """The text of the note on its page (the markdown's HTML)."""
    return str(element(user, "note-page-text").props.get("innerHTML", ""))


async def test_the_note_page_shows_a_saved_edit_at_once_and_confirms_it(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    note_id = _note(actor_for(email), "Première version")
    await log_in(ui_user, email, path=f"/login?redirect_to=/notes/{note_id}")
    await ui_user.should_see(marker="note-edit", retries=50)
    assert "Première version" in _shown_text(ui_user)
    ui_user.find(marker="note-edit").click()
    await ui_user.should_see(marker="note-dialog")
    ui_user.find(marker="note-body").clear().type("Deuxième version")
    ui_user.find(marker="note-save").click()
    await ui_user.should_see(gettext("Note saved."))
    await eventually(lambda: "Deuxième version" in _shown_text(ui_user), "the saved text is not shown")
    await ui_user.should_not_see(marker="note-dialog")
    ui_user.find(marker="note-edit").click()  # the page's buttons still work after the redraw
    await ui_user.should_see(marker="note-dialog")
    assert element(ui_user, "note-body").value == "Deuxième version"


async def test_deleting_from_the_note_page_confirms_and_goes_back_to_the_list(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    note_id = _note(actor_for(email), "À supprimer")
    _note(actor_for(email), "À garder")
    await log_in(ui_user, email, path=f"/login?redirect_to=/notes/{note_id}")
    await ui_user.should_see(marker="note-edit", retries=50)
    ui_user.find(marker="note-edit").click()
    await ui_user.should_see(marker="note-delete")
    ui_user.find(marker="note-delete").click()
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(gettext("Note deleted."))
    await eventually(lambda: _texts(ui_user) == ["À garder"], "the page did not go back to the list")
    with unit_of_work() as session:
        assert session.get(Note, note_id) is None


async def test_another_users_edit_of_a_shared_note_shows_live_and_keeps_an_open_form(
    ui_user: User, account: Callable[..., str]
) -> None:
    """The page follows another person's saved change without a reload; an open form is not overwritten
    by it: it says who changed the note, keeps the typing, and loads their version when asked."""
    email = account(email="claire@example.org", name="Claire Dupont")
    colleague = actor_for(account(email="marc@example.org", name="Marc Leroy"))
    note_id = _note(actor_for(email), "Première version", shares=[{"user_id": colleague.id, "can_write": True}])
    await log_in(ui_user, email, path=f"/login?redirect_to=/notes/{note_id}")
    await ui_user.should_see(marker="note-edit", retries=50)
    with unit_of_work() as session:  # Marc, in another session
        notes.update_note(session, colleague, note_id, {"body": "Version de Marc"}, expected_version=1)
    await eventually(lambda: "Version de Marc" in _shown_text(ui_user), "another's change is not shown")

    ui_user.find(marker="note-edit").click()
    await ui_user.should_see(marker="note-dialog")
    ui_user.find(marker="note-body").clear().type("Ma version")
    with unit_of_work() as session:
        notes.update_note(session, colleague, note_id, {"body": "Marc encore"}, expected_version=2)
    await ui_user.should_see(marker="stale-message")
    assert "Marc Leroy" in element(ui_user, "stale-message").text
    assert element(ui_user, "note-body").value == "Ma version"  # the typing is kept
    await eventually(lambda: "Marc encore" in _shown_text(ui_user), "the page behind is not refreshed")
    ui_user.find(marker="stale-reload").click()
    await eventually(lambda: element(ui_user, "note-body").value == "Marc encore", "their version is not loaded")
    await ui_user.should_not_see(marker="stale-message")


async def test_a_note_deleted_elsewhere_says_so_and_goes_back_to_the_list(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account()
    note_id = _note(actor_for(email), "Bientôt supprimée", visibility="shared")
    await log_in(ui_user, email, path=f"/login?redirect_to=/notes/{note_id}")
    await ui_user.should_see(marker="note-edit", retries=50)
    with unit_of_work() as session:  # this user, in another tab
        notes.delete_note(session, actor_for(email), note_id)
    await ui_user.should_see(gettext("This note has been deleted."))
    await ui_user.should_see(marker="notes-table")


async def test_the_list_shows_a_note_shared_by_someone_else_without_reload(
    ui_user: User, account: Callable[..., str]
) -> None:
    email = account(email="claire@example.org", name="Claire Dupont")
    colleague = actor_for(account(email="marc@example.org", name="Marc Leroy"))
    stranger = actor_for(account(email="alice@example.org", name="Alice Martin"))
    await log_in(ui_user, email, path="/login?redirect_to=/notes")
    await ui_user.should_see(marker="note-count", retries=50)
    await eventually(
        lambda: element(ui_user, "note-count").text == ngettext("{count} note", "{count} notes", 0, count=0),
        "the list was not loaded",
    )
    _note(stranger, "Note privée d'Alice")  # not for Claire
    note_id = _note(colleague, "Pour Claire", shares=[{"user_id": actor_for(email).id}])
    await eventually(lambda: _texts(ui_user) == ["Pour Claire"], "the shared note does not appear")
    with unit_of_work() as session:
        notes.update_note(session, colleague, note_id, {"body": "Pour Claire, corrigée"}, expected_version=1)
    await eventually(lambda: _texts(ui_user) == ["Pour Claire, corrigée"], "the edit does not show")
    with unit_of_work() as session:
        notes.unshare_note(session, colleague, note_id, actor_for(email).id)
    await eventually(lambda: _texts(ui_user) == [], "a note no longer shared stays listed")
