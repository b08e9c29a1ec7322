"""A note in a dialog: write or edit its text (plain or simple markdown, with a preview), make it
private or shared, share it with named users for reading or writing, see who saved it last when two
people edit it at once, comment. Text written by users is shown through `NoteMarkdown`: raw HTML in
it is displayed as text, never interpreted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import markdown2
import nh3
from nicegui import ui
from sqlmodel import Session

from components import live
from components.backend import call, current_actor
from components.comments import comment_thread
from components.dialogs import confirm, disposable, opportunity_line
from components.moments import user_zone
from components.pickers import active_users, institution_picker, show_choice_whole
from crm_app.activities import notes
from crm_app.activities.labels import NOTE_VISIBILITY_LABELS
from crm_app.activities.models import NoteVisibility
from crm_app.activities.notes import NoteRow, ShareRow
from crm_app.platform.errors import Conflict, Forbidden, NotFound
from crm_app.platform.events import Event, NoteChanged
from crm_app.platform.i18n import format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.permissions import Actor

OnSaved = Callable[[], Awaitable[object]]
READ, WRITE = "read", "write"


#: Notes are typed like messages: a line break is a line break, a list needs no blank line before it.
NOTE_EXTRAS: dict[str, Any] = {
    "fenced-code-blocks": None,
    "tables": None,
    "cuddled-lists": None,
    "breaks": {"on_newline": True},
}
#: What the HTML of a note may hold once rendered: markdown's own elements, links to the web or mail.
# fmt: off
NOTE_TAGS = frozenset({
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
})
# fmt: on


def note_html(body: str) -> str:
    """A note's markdown as HTML that is safe to put in a page as it is (a table cell's `v-html`, where no
    DOMPurify runs): markdown2's safe mode escapes the HTML typed in the note, so `<b>` or `<script>` show
    as typed; Ammonia (nh3) then keeps only markdown's elements and web or mail addresses, so nothing of the
    note can run, whatever markdown2 lets through."""
    rendered = markdown2.markdown(body, extras=NOTE_EXTRAS, safe_mode="escape")
    return nh3.clean(
        str(rendered),
        tags=set(NOTE_TAGS),
        attributes={
            "a": {"href", "title"},
            "img": {"src", "alt", "title"},
            "code": {"class"},
            "th": {"align"},
            "td": {"align"},
        },
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


class NoteMarkdown(ui.markdown):
    """`ui.markdown` for text users wrote: shown through `note_html` (NiceGUI would hand raw HTML in the
    markdown through to the page, with only DOMPurify in the browser to filter it). DOMPurify still runs."""

    NOTE_EXTRAS: ClassVar[dict[str, Any]] = NOTE_EXTRAS

    def _handle_content_change(self, content: str) -> None:
        html = note_html(content)
        if self._props.get("innerHTML") != html:
            self._props["innerHTML"] = html


def note_text(body: str) -> NoteMarkdown:
    return NoteMarkdown(body).classes("w-full break-words").mark("note-text")


def is_long(body: str, *, lines: int = 3, length: int = 240) -> bool:
    """Whether a note needs more than the few lines a list shows of it."""
    return len(body) > length or len([line for line in body.splitlines() if line.strip()]) > lines


def excerpt(body: str, length: int = 120) -> str:
    """The first line of a note, shortened (lists show it as text)."""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return first if len(first) <= length else first[: length - 1].rstrip() + "…"


def _saved_version(session: Session, actor: Actor, note_id: uuid.UUID) -> int | None:
    """The note's saved version (None once it cannot be read: deleted, or no longer shared)."""
    try:
        return notes.get_readable_note(session, actor, note_id).version
    except (NotFound, Forbidden):
        return None


def _deleted(session: Session, actor: Actor, note_id: uuid.UUID) -> bool:
    notes.delete_note(session, actor, note_id)
    return True  # `call` gives None when it failed


class SharesEditor:
    """Who a note is shared with, for reading or writing. An existing note changes at once
    (share_note / unshare_note); a new one keeps the list until it is created."""

    def __init__(
        self, note: NoteRow | None, users: dict[str, str], *, editable: bool, on_change: OnSaved | None = None
    ) -> None:
        self.note = note
        self.editable = editable
        self.on_change = on_change
        author = note.author_id if note else current_actor().id
        self.users = {k: v for k, v in users.items() if k != str(author)}
        self.shares: dict[str, bool] = {str(s.user_id): s.can_write for s in note.shares} if note else {}
        self.names = {str(s.user_id): s.full_name for s in note.shares} if note else {}
        with ui.column().classes("w-full gap-1").mark("note-shares") as self.root:
            self.items = ui.column().classes("w-full gap-1")
            if editable:
                with ui.row().classes("w-full items-center gap-2 no-wrap"):
                    self.user = (
                        show_choice_whole(ui.select(self.users, label=_("Share with"), with_input=True, value=None))
                        .props("dense outlined")
                        .classes("grow")
                        .mark("share-user")
                    )
                    self.right = (
                        ui.toggle({READ: _("Can read"), WRITE: _("Can edit")}, value=READ)
                        .props("no-caps dense")
                        .mark("share-right")
                    )
                    ui.button(_("Share"), icon="person_add", on_click=self.add).props("flat no-caps").mark("share-add")
        self.show()

    def as_raw(self) -> list[dict[str, Any]]:
        return [{"user_id": user_id, "can_write": writer} for user_id, writer in self.shares.items()]

    def show(self) -> None:
        self.items.clear()
        with self.items:
            if not self.shares:
                ui.label(_("Not shared with anyone by name.")).classes("text-grey-7 text-caption")
            for user_id, writer in self.shares.items():
                with ui.row().classes("items-center gap-2").mark(f"share share-{user_id}"):
                    ui.icon("edit" if writer else "visibility", color="grey-7", size="sm")
                    ui.label(self.names.get(user_id) or self.users.get(user_id, "?"))
                    ui.label(_("can edit") if writer else _("can read")).classes("text-caption text-grey-7")
                    if self.editable:
                        ui.button(icon="close", on_click=lambda u=user_id: self.remove(u)).props(
                            f'flat round dense size=sm aria-label="{_("Stop sharing")}"'
                        ).tooltip(_("Stop sharing")).mark(f"share-remove share-remove-{user_id}")

    async def add(self) -> None:
        user_id = self.user.value
        if not user_id:
            self.user.error = _("Choose a user.")
            return
        self.user.error = None
        writer = self.right.value == WRITE
        if self.note is not None:
            done = await call(_shared, self.note.id, uuid.UUID(user_id), writer, fields={"shares": self.user})
            if not done:
                return
        self.shares[user_id] = writer
        self.names[user_id] = self.users.get(user_id, "?")
        self.user.value = None
        self.show()
        await self._changed()

    async def remove(self, user_id: str) -> None:
        if self.note is not None and not await call(_unshared, self.note.id, uuid.UUID(user_id)):
            return
        self.shares.pop(user_id, None)
        self.show()
        await self._changed()

    async def _changed(self) -> None:
        if self.note is not None:
            with self.root:  # not the context of the button clicked: `show` has just deleted it
                ui.notify(_("Sharing updated."), type="positive")
                if self.on_change is not None:
                    await self.on_change()


def _shared(session: Session, actor: Actor, note_id: uuid.UUID, user_id: uuid.UUID, can_write: bool) -> bool:
    notes.share_note(session, actor, note_id, user_id, can_write=can_write)
    return True


def _unshared(session: Session, actor: Actor, note_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    notes.unshare_note(session, actor, note_id, user_id)
    return True


class NoteDialog:
    """See `open_note_dialog`."""

    def __init__(
        self,
        note: NoteRow | None,
        *,
        users: dict[str, str],
        zone: str,
        on_saved: OnSaved | None,
        on_deleted: OnSaved | None,
        institution_id: uuid.UUID | None,
        institution_name: str | None,
        opportunity: tuple[uuid.UUID, str] | None = None,
    ) -> None:
        self.note, self.opportunity = note, opportunity if note is None else None  # a new note's link
        self.on_saved = on_saved
        self.on_deleted = on_deleted
        self.version = note.version if note else 0
        self.home = ui.context.slot.parent  # where it was opened: confirmations and "Load their version"
        self.notice: live.StaleNotice | None = None
        writable = note is None or note.can_edit
        manages = note is None or note.can_manage
        self.fields: dict[str, Any] = {}
        with ui.dialog() as self.dialog, ui.card().classes("w-[44rem] max-w-full").mark("note-dialog"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(_("New note") if note is None else _("Note")).classes("text-h6")
                if note is not None:
                    ui.badge(
                        _(NOTE_VISIBILITY_LABELS[note.visibility]),
                        color="grey-7" if note.visibility == NoteVisibility.PRIVATE else "secondary",
                    )
                ui.space()
                ui.button(icon="close", on_click=self.dialog.close).props(f'flat round dense aria-label="{_("Close")}"')
            if note is not None:
                ui.label(
                    _(
                        "By {author}, changed {when}",
                        author=note.author_name or _("Former user"),
                        when=format_datetime(note.updated_at, zone, style="short"),
                    )
                ).classes("text-caption text-grey-7")
            opportunity_line(self.opportunity, marker="note-opportunity")
            if note is not None and writable:
                self.notice = live.StaleNotice(self._concerns, reload=self.reopen, outdated=self._outdated)
            self.conflict = (
                ui.row().classes("w-full items-center gap-2 q-pa-sm bg-orange-1 rounded-borders").mark("note-conflict")
            )
            self.conflict.set_visibility(False)
            if writable:
                self._editor(note)
            else:
                assert note is not None
                note_text(note.body)
            if manages:
                self.fields["visibility"] = ui.radio(
                    {v.value: _(NOTE_VISIBILITY_LABELS[v]) for v in NoteVisibility},
                    value=(note.visibility if note else NoteVisibility.PRIVATE).value,
                ).props("inline")
                ui.label(
                    _(
                        "A private note is seen by you alone and the people you share it with; a shared note "
                        "by everyone who sees the institution."
                    )
                ).classes("text-caption text-grey-7")
                self.fields["institution_id"] = institution_picker(
                    value=note.institution_id if note else institution_id,
                    value_label=note.institution_name if note else institution_name,
                ).classes("w-full")
            elif note is not None and note.institution_name:
                ui.label(_("Institution: {name}", name=note.institution_name)).classes("text-grey-8")
            for name, element in self.fields.items():
                element.mark(f"note-{name}")
                if name == "institution_id" and self.opportunity:  # the opportunity's institution
                    element.disable()
            ui.label(_("Shared with")).classes("text-subtitle2 q-mt-sm")
            self.shares = SharesEditor(note, users, editable=manages, on_change=on_saved)
            with ui.row().classes("w-full items-center gap-2 q-mt-sm"):
                if note is not None and note.can_manage:
                    ui.button(
                        _("Delete"), icon="delete", on_click=lambda: confirm(_("Delete this note?"), self.delete)
                    ).props("flat no-caps color=negative").mark("note-delete")
                ui.space()
                ui.button(_("Cancel") if writable else _("Close"), on_click=self.dialog.close).props("flat no-caps")
                if writable:
                    ui.button(_("Save"), on_click=self.save).props("unelevated no-caps").mark("note-save")
            if note is not None:
                ui.separator()
                comment_thread(CommentTarget.NOTE, note.id)
        disposable(self.dialog)

    def _editor(self, note: NoteRow | None) -> None:
        with ui.tabs().props("dense align=left no-caps").classes("w-full") as tabs:
            write = ui.tab(_("Write")).mark("note-write-tab")
            preview_tab = ui.tab(_("Preview")).mark("note-preview-tab")
        with ui.tab_panels(tabs, value=write).classes("w-full"):
            with ui.tab_panel(write).classes("q-pa-none"):
                self.fields["body"] = (
                    ui.textarea(_("Text") + " *", value=note.body if note else "")
                    .props("outlined autogrow autofocus")
                    .classes("w-full")
                )
                ui.label(_("Simple markdown: **bold**, *italic*, lists with -, links [text](https://…).")).classes(
                    "text-caption text-grey-7"
                )
            with ui.tab_panel(preview_tab).classes("q-pa-none"):
                self.preview = note_text(note.body if note else "")
        self.fields["body"].on_value_change(lambda e: self.preview.set_content(str(e.value or "")))

    def values(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if "body" in self.fields:
            raw["body"] = self.fields["body"].value
        if "visibility" in self.fields:
            raw["visibility"] = self.fields["visibility"].value
            raw["institution_id"] = self.fields["institution_id"].selected_id
        if self.opportunity is not None:
            raw["opportunity_id"] = self.opportunity[0]
        return raw

    def _concerns(self, event: Event) -> bool:
        """Someone else's saved change to this note (a deletion shows when the form is saved)."""
        return (
            isinstance(event, NoteChanged)
            and self.note is not None
            and event.note_id == self.note.id
            and (not event.deleted)
        )

    async def _outdated(self) -> bool:
        """Whether the saved note is no longer the version this form edits (sharing leaves the text as is)."""
        assert self.note is not None
        return await call(_saved_version, self.note.id) != self.version

    def _show_conflict(self, error: Conflict) -> None:
        if self.notice is not None:
            self.notice.root.set_visibility(False)  # the conflict says it, with the same offer
        self.conflict.clear()
        with self.conflict:
            ui.icon("warning", color="warning")
            ui.label(
                _(
                    "{name} changed this note in the meantime. Your text is kept here: copy what you need, "
                    "then load their version.",
                    name=error.changed_by or _("Someone"),
                )
            ).classes("grow")
            ui.button(_("Load their version"), on_click=self.load_latest).props("flat no-caps").mark("note-reload")
        self.conflict.set_visibility(True)

    async def load_latest(self) -> None:
        assert self.note is not None
        latest = await call(notes.get_note_row, self.note.id)
        if latest is None:
            return
        self.note, self.version = latest, latest.version
        if "body" in self.fields:
            self.fields["body"].value = latest.body
        if "visibility" in self.fields:
            self.fields["visibility"].value = latest.visibility.value
            self.fields["institution_id"].select_record(latest.institution_id, latest.institution_name)
        self.conflict.set_visibility(False)
        if self.notice is not None:  # watching again, from the version now loaded
            self.notice.stale = False
            self.notice.root.set_visibility(False)

    async def save(self) -> None:
        raw = self.values()
        if self.notice is not None:
            self.notice.saving()
        with self.home:  # the confirmation outlives the dialog
            if self.note is None:
                saved: Any = await call(notes.create_note, {**raw, "shares": self.shares.as_raw()}, fields=self.fields)
            else:
                saved = await call(
                    notes.update_note,
                    self.note.id,
                    raw,
                    expected_version=self.version,
                    fields=self.fields,
                    on_error={Conflict: self._show_conflict},
                )
            if self.notice is not None:
                self.notice.saved(saved is not None)
            if saved is None:
                return
            ui.notify(_("Note saved."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_saved is not None:
                await self.on_saved()

    async def delete(self) -> None:
        assert self.note is not None
        if self.notice is not None:
            self.notice.saving()
        with self.home:
            if not await call(_deleted, self.note.id):
                if self.notice is not None:
                    self.notice.saved(False)
                return
            ui.notify(_("Note deleted."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_deleted is not None:
                await self.on_deleted()

    async def reopen(self) -> None:
        """The note as saved now, in a fresh dialog (what was typed here is dropped, as the user chose)."""
        assert self.note is not None
        self.dialog.close()
        if not self.home.is_deleted:
            with self.home:
                await open_note_dialog(self.note.id, on_saved=self.on_saved, on_deleted=self.on_deleted)


async def open_note_dialog(
    note_id: uuid.UUID | None = None,
    *,
    on_saved: OnSaved | None = None,
    on_deleted: OnSaved | None = None,
    institution_id: uuid.UUID | None = None,
    institution_name: str | None = None,
    opportunity: tuple[uuid.UUID, str] | None = None,
) -> None:
    """Open a note (`note_id`) or write a new one, optionally on an institution (and linked to an
    `opportunity` (id, name) of that institution). `on_saved` runs after
    a save, and after a deletion unless `on_deleted` is given (the list behind refreshes; the note's own
    page goes back to the list). While it is open, a change someone else saves to the note is shown
    above the form (`live.StaleNotice`), the typing kept."""
    note: NoteRow | None = None
    if note_id is not None:
        note = await call(notes.get_note_row, note_id)
        if note is None:
            return
    zone, users = await asyncio.gather(user_zone(), active_users())
    if users is None:
        return
    NoteDialog(
        note,
        users=users,
        zone=zone,
        on_saved=on_saved,
        on_deleted=on_deleted or on_saved,
        institution_id=institution_id,
        institution_name=institution_name,
        opportunity=opportunity,
    ).dialog.open()


def shares_text(shares: list[ShareRow]) -> str:
    return ", ".join(f"{s.full_name} ({_('can edit') if s.can_write else _('can read')})" for s in shares)
