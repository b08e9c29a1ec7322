"""/notes: the notes the user may read — all of them, their own, or those shared with them by name —
searched and paged in SQL, filters in the URL; a dialog to write, edit, share and comment.
/notes/{id}: one note (what a notification links to)."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from components import live
from components.backend import call, current_actor
from components.comments import comment_thread
from components.filter_chips import Chip, FilterChips, range_text
from components.moments import user_zone
from components.note_dialog import excerpt, is_long, note_html, note_text, open_note_dialog, shares_text
from components.paged_table import PagedTable, TableState, page_request, rows_of
from components.pickers import InstitutionPicker, as_day, institution_picker
from components.shell import app_page, set_title
from crm_app.activities import notes
from crm_app.activities.labels import NOTE_VISIBILITY_LABELS
from crm_app.activities.models import NoteVisibility
from crm_app.activities.notes import NoteQuery, NoteRow
from crm_app.institutions import service as institutions
from crm_app.platform.events import Event, NoteChanged
from crm_app.platform.i18n import N_, format_datetime, ngettext
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.comments import CommentTarget
from crm_app.platform.params import Params
from crm_app.platform.permissions import can

SCOPE_LABELS = {"all": N_("All I can read"), "mine": N_("Mine"), "shared_with_me": N_("Shared with me")}


def parse_query(params: Mapping[str, Sequence[str]]) -> NoteQuery:
    read = Params(params)
    scope = read.one("scope") or "all"
    return NoteQuery(
        scope=scope if scope in SCOPE_LABELS else "all",
        institution_id=read.ident("institution_id"),
        q=read.one("q") or "",
        author_id=read.ident("author_id"),
        created_from=as_day(read.one("created_from")),
        created_to=as_day(read.one("created_to")),
    )


def query_params(query: NoteQuery) -> dict[str, str]:
    params = {
        "scope": query.scope if query.scope != "all" else "",
        "q": query.q,
        "institution_id": str(query.institution_id) if query.institution_id else "",
        "author_id": str(query.author_id) if query.author_id else "",
        "created_from": query.created_from.isoformat() if query.created_from else "",
        "created_to": query.created_to.isoformat() if query.created_to else "",
    }
    return {name: value for name, value in params.items() if value}


@app_page("/notes", title=N_("Notes"), icon="sticky_note_2", in_navigation=True, order=60)
async def notes_page(query: dict[str, list[str]]) -> None:
    screen = NoteScreen(parse_query(query))
    zone, institution = await asyncio.gather(
        user_zone(),
        call(institutions.get_detail, screen.query.institution_id) if screen.query.institution_id else _nothing(),
    )
    screen.zone = zone
    screen.build(institution.institution.name if institution else None)
    await screen.table.refresh()


async def _nothing() -> None:
    return None


class NoteScreen:
    table: PagedTable
    institution: InstitutionPicker

    def __init__(self, query: NoteQuery) -> None:
        self.query = query
        self.zone = "Europe/Paris"
        self._loads = 0
        self.actor = current_actor()
        self.shown: set[uuid.UUID] = set()  # the notes on screen: the live filter's cheap test
        self.author_name: str | None = None  # the author filter's, read from the rows

    def build(self, institution_name: str | None) -> None:
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(_("Notes")).classes("text-h5")
            self.count = ui.label().classes("text-grey-7").mark("note-count")
            ui.space()
            ui.button(_("New note"), icon="add", on_click=lambda: open_note_dialog(on_saved=self.table.refresh)).props(
                "unelevated"
            ).mark("new-note")
        with ui.row().classes("w-full items-center gap-2"):
            ui.toggle(
                {k: _(v) for k, v in SCOPE_LABELS.items()},
                value=self.query.scope,
                on_change=lambda e: self.change(scope=e.value),
            ).props("no-caps dense").mark("filter-scope")
            ui.input(_("Search"), value=self.query.q, on_change=lambda e: self.change(q=(e.value or "").strip())).props(
                "dense outlined clearable debounce=300"
            ).classes("w-64").mark("search")
            self.institution = (
                institution_picker(
                    value=self.query.institution_id,
                    value_label=institution_name,
                    on_change=lambda _e: self.change(institution_id=self.institution.selected_id),
                )
                .props("dense outlined")
                .classes("w-72")
                .mark("filter-institution")
            )
        columns = [
            {"name": "text", "label": _("Note"), "field": "text", "align": "left"},
            {"name": "institution", "label": _("Institution"), "field": "institution", "align": "left"},
            {"name": "author", "label": _("Author"), "field": "author", "align": "left"},
            {"name": "visibility", "label": _("Visibility"), "field": "visibility", "align": "left"},
            {"name": "shares", "label": _("Shared with"), "field": "shares", "align": "left"},
            {"name": "updated", "label": _("Changed"), "field": "updated", "align": "left"},
        ]
        self.chips = FilterChips()
        self.table = PagedTable(columns, self._load)
        # The note's markdown as HTML made safe on the server (note_html): nothing typed in a note runs.
        # A long note shows its first lines; "Show more" unfolds it here, its link opens it whole.
        self.table.table.add_slot(
            "body-cell-text",
            r"""
            <q-td :props="props" class="opex-wrap" style="max-width: 32rem; min-width: 16rem">
              <div :class="['opex-note', props.expand ? '' : 'opex-clamp']" v-html="props.row.html"></div>
              <div class="row items-center gap-2">
                <a :href="'/notes/' + props.row.id" class="text-primary"
                   @click.prevent="() => $parent.$emit('open', props.row.id)">"""
            + html.escape(_("Open"))
            + r"""</a>
                <q-btn v-if="props.row.long" flat dense no-caps size="sm" color="primary"
                       @click="props.expand = !props.expand"
                       :label="props.expand ? """
            + html.escape(json.dumps(_("Show less")))
            + " : "
            + html.escape(json.dumps(_("Show more")))
            + r""""></q-btn>
              </div>
            </q-td>""",
        )
        self.table.table.on("open", lambda e: open_note_dialog(uuid.UUID(str(e.args)), on_saved=self.table.refresh))
        self.table.table.mark("notes-table")
        live.follow(self.concerns, self.table.refresh, owner=self.table.table)

    def _row(self, row: NoteRow) -> dict[str, Any]:
        return {
            "id": str(row.id),
            "text": excerpt(row.body),
            "html": note_html(row.body),
            "long": is_long(row.body),
            "institution": row.institution_name or "",
            "author": row.author_name or "",
            "visibility": _(NOTE_VISIBILITY_LABELS[row.visibility]),
            "shares": shares_text(row.shares),
            "updated": format_datetime(row.updated_at, self.zone, style="short"),
        }

    def _chips(self) -> list[Chip]:
        """The filters the bar has no field for (set by the dashboard's links)."""
        q = self.query
        chips: list[Chip] = []
        if text := range_text(_("Written"), q.created_from, q.created_to):
            chips.append((text, lambda: self.change(created_from=None, created_to=None)))
        if q.author_id is not None:
            chips.append((_("Written by {name}", name=self.author_name or "…"), lambda: self.change(author_id=None)))
        return chips

    async def _load(self, table_state: TableState) -> tuple[list[dict[str, Any]], int] | None:
        params = query_params(self.query)
        ui.navigate.history.replace("/notes" + (f"?{urlencode(params)}" if params else ""))
        self._loads += 1
        ticket = self._loads
        page = await call(notes.list_notes, self.query, page_request(table_state))
        if page is None or ticket != self._loads:  # a newer filter's answer is on its way
            return None
        self.count.text = ngettext("{count} note", "{count} notes", page.total, count=page.total)
        if self.query.author_id is not None and page.items:
            self.author_name = page.items[0].author_name
        self.chips.show(self._chips())
        self.shown = {row.id for row in page.items}
        return rows_of(page, self._row)

    async def change(self, **changes: Any) -> None:
        self.query = dataclasses.replace(self.query, **changes)
        await self.table.refresh(first_page=True)

    def concerns(self, event: Event) -> bool:
        """Cheap, on the event loop for every committed event: could this change what is shown?"""
        if not isinstance(event, NoteChanged):
            return False
        if event.note_id in self.shown:
            return True
        q, me = self.query, self.actor.id
        if q.institution_id is not None and event.institution_id != q.institution_id:
            return False
        if q.scope == "mine":
            return event.author_id == me
        if q.scope == "shared_with_me":
            return me in event.reader_ids
        return me in (event.author_id, *event.reader_ids) or (
            event.visibility == NoteVisibility.SHARED and can(self.actor, "institution.view")
        )


@app_page("/notes/{note_id}", title=N_("Note"), parent="/notes")
async def note_page(note_id: uuid.UUID) -> None:
    """One note: a `live.RecordPanel` redrawn after a saved edit (which once navigated to the page's own
    address, a no-op: the page kept the old text) and at each change someone else saves to it; a
    deletion, here or elsewhere, goes back to the list and says so."""
    zone = await user_zone()

    async def load() -> NoteRow | None:
        row = await call(notes.get_note_row, note_id)
        if row is not None:
            set_title(excerpt(row.body, 60) or _("Note"))
        return row

    async def edit() -> None:
        with panel.frame:  # the dialog outlives the content it was opened from
            await open_note_dialog(note_id, on_saved=panel.show, on_deleted=gone)

    async def gone() -> None:
        with panel.frame:
            ui.navigate.to("/notes")

    async def deleted_elsewhere(_event: Event) -> None:
        with panel.frame:
            ui.notify(_("This note has been deleted."), type="warning")
            ui.navigate.to("/notes")

    def mine(event: Event) -> bool:
        return isinstance(event, NoteChanged) and event.note_id == note_id

    panel: live.RecordPanel[NoteRow] = live.RecordPanel(
        load,
        lambda row: _note(row, zone, edit),
        wants=lambda event: mine(event) and not getattr(event, "deleted", False),
    )
    live.watch(lambda event: mine(event) and getattr(event, "deleted", False), deleted_elsewhere, owner=panel.frame)
    if await panel.show():
        with panel.frame, ui.card().classes("w-full max-w-3xl"):
            comment_thread(CommentTarget.NOTE, note_id)


def _note(row: NoteRow, zone: str, edit: Callable[[], Awaitable[None]]) -> None:
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(_("Note")).classes("text-h5")
        ui.badge(
            _(NOTE_VISIBILITY_LABELS[row.visibility]),
            color="grey-7" if row.visibility == NoteVisibility.PRIVATE else "secondary",
        ).mark("note-visibility")
        ui.space()
        if row.can_edit:
            ui.button(_("Edit"), icon="edit", on_click=edit).props("unelevated no-caps").mark("note-edit")
    with ui.card().classes("w-full max-w-3xl"):
        ui.label(
            _(
                "By {author}, changed {when}",
                author=row.author_name or _("Former user"),
                when=format_datetime(row.updated_at, zone, style="short"),
            )
        ).classes("text-caption text-grey-7").mark("note-changed")
        if row.institution_id:
            ui.link(row.institution_name or "", f"/institutions/{row.institution_id}")
        note_text(row.body).mark("note-text note-page-text")  # the dialog's preview is a note-text too
        if row.shares:
            ui.label(_("Shared with: {names}", names=shares_text(row.shares))).classes("text-caption text-grey-7").mark(
                "note-shared-with"
            )
