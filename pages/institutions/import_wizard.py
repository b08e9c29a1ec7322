"""/institutions/import: the CSV import wizard. Upload → column mapping → preview with errors and
duplicates, and the choices → import with a progress bar → report with the rejected rows to download.

The file stays in this tab's memory between the steps; every step asks the service again from its
bytes (off the event loop), so the import works on what the database holds when it runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from nicegui import events, run, ui

from components.backend import call, client_info
from components.paged_table import PagedTable, TableState
from components.shell import app_page
from crm_app.institutions import imports
from crm_app.institutions.duplicates import RULE_LABELS
from crm_app.institutions.imports import (
    ACTION_LABELS,
    STATUS_LABELS,
    TARGETS,
    Action,
    FileAnalysis,
    ImportPreview,
    ImportReport,
    PreviewRow,
    RowStatus,
)
from crm_app.platform.i18n import N_, current_locale, format_decimal, pgettext
from crm_app.platform.i18n import gettext as _

log = logging.getLogger(__name__)

STEPS = (N_("File"), N_("Columns"), N_("Preview"), N_("Import"), N_("Report"))
STATUS_COLORS = {RowStatus.VALID: "positive", RowStatus.ERROR: "negative", RowStatus.DUPLICATE: "warning"}
IGNORE = ""  # the mapping select's value for "ignore this column"


@dataclass
class _Progress:
    """Written by the import's worker thread, read by a timer on the event loop (no UI access there)."""

    done: int = 0
    total: int = 0

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total


@dataclass
class _Wizard:
    body: ui.column
    steps: ui.row
    content: bytes = b""
    file_name: str = ""
    analysis: FileAnalysis | None = None
    mapping: list[str | None] = field(default_factory=list)
    preview: ImportPreview | None = None
    default_action: Action = Action.SKIP
    overrides: dict[int, Action] = field(default_factory=dict)
    report: ImportReport | None = None

    def show_step(self, index: int) -> None:
        self.steps.clear()
        with self.steps:
            for number, title in enumerate(STEPS):
                if number:
                    ui.icon("chevron_right", color="grey-6")
                current = number == index
                ui.chip(
                    f"{number + 1}. {_(title)}",
                    color="primary" if current else "grey-4",
                    text_color="white" if current else "grey-9",
                ).props("dense" + (" aria-current=step" if current else ""))
        self.body.clear()

    # 1. Upload ----------------------------------------------------------------------------------

    def show_upload(self) -> None:
        self.show_step(0)
        with self.body:
            ui.label(_("Choose a CSV file of institutions, with one contact per row if you like.")).classes(
                "text-subtitle1"
            )
            ui.label(
                _(
                    "Separator (comma or semicolon), encoding and French or English column names are "
                    "recognised. At most 20 MB and 50,000 rows."
                )
            ).classes("text-grey-7")
            ui.upload(
                label=_("CSV file"),
                auto_upload=True,
                max_file_size=imports.MAX_BYTES,
                on_upload=self.uploaded,
                on_rejected=self.rejected,
            ).props('accept=".csv,text/csv" flat bordered').classes("w-full max-w-xl").mark("upload")

    def rejected(self) -> None:
        ui.notify(_("Choose a CSV file of at most 20 MB."), type="negative")

    async def uploaded(self, event: events.UploadEventArguments) -> None:
        upload = event.file
        if not upload.name.lower().endswith(".csv"):
            ui.notify(_("Choose a CSV file (.csv)."), type="negative")
            return
        if upload.size() > imports.MAX_BYTES:
            ui.notify(_("The file is larger than 20 MB."), type="negative")
            return
        content = await upload.read()
        with self.body:
            analysis = await call(imports.analyse_file, content)
        if analysis is None:
            return
        self.content, self.file_name, self.analysis = content, upload.name, analysis
        self.mapping = list(analysis.mapping)
        self.overrides.clear()
        self.show_mapping()

    # 2. Mapping ---------------------------------------------------------------------------------

    def show_mapping(self) -> None:
        assert self.analysis is not None
        analysis = self.analysis
        self.show_step(1)
        options = {IGNORE: _("(ignore this column)"), **{key: _(label) for key, label in TARGETS.items()}}
        selects: list[ui.select] = []
        with self.body:
            ui.label(
                _(
                    "{file}: {rows} rows, separator “{separator}”, encoding {encoding}.",
                    file=self.file_name,
                    rows=format_decimal(analysis.row_count),
                    separator=analysis.delimiter,
                    encoding=analysis.encoding,
                )
            ).classes("text-grey-7").mark("file-summary")
            ui.label(_("Check which field each column of the file fills. Recognised columns are already chosen."))
            with ui.grid(columns=3).classes("w-full items-center gap-x-6 gap-y-2"):
                for title in (_("Column of the file"), _("Examples"), _("Field")):
                    ui.label(title).classes("text-weight-medium")
                for index, column in enumerate(analysis.columns):
                    ui.label(column or _("(no name)"))
                    ui.label(" · ".join(analysis.samples[index])).classes("text-grey-7 ellipsis")
                    selects.append(
                        ui.select(options, value=self.mapping[index] or IGNORE)
                        .props("dense outlined options-dense")
                        .classes("w-64")
                        .mark(f"map-{index}")
                    )

        async def next_step() -> None:
            self.mapping = [select.value or None for select in selects]
            await self.load_preview()

        with self.body, ui.row().classes("gap-2 q-mt-md"):
            ui.button(_("Back"), on_click=self.show_upload).props("flat").mark("back")
            ui.button(_("Preview"), on_click=next_step).props("unelevated").mark("mapping-next")

    # 3. Preview ---------------------------------------------------------------------------------

    async def load_preview(self) -> None:
        self.body.clear()
        # The button that got here is gone: the body is the context of what follows (notifications).
        with self.body:
            ui.spinner(size="lg")
            ui.label(_("Checking every row…")).classes("text-grey-7")
            preview = await call(imports.preview_import, self.content, self.mapping)
        if preview is None:
            self.show_mapping()
            return
        self.preview = preview
        self.show_preview()

    def _row(self, row: PreviewRow) -> dict[str, Any]:
        assert self.preview is not None
        action = imports.effective_action(row, self.default_action, self.overrides)
        match = ""
        if row.match is not None:
            where = _("line {line} of the file", line=row.match.line) if row.match.line else _("already in the CRM")
            match = f"{row.match.name} ({where}) — {_(RULE_LABELS[row.match.rule])}"
        choices = [
            {"label": _(label), "value": value.value}
            for value, label in ACTION_LABELS.items()
            if row.match is not None and row.match.allows(value)
        ]
        return {
            "line": row.line,
            "status": _(STATUS_LABELS[row.status]),
            "color": STATUS_COLORS[row.status],
            "name": row.name,
            "city": " ".join(str(p) for p in (row.values.get("postal_code"), row.values.get("city")) if p),
            # the table has a line column: each error names its column, value and reason
            "details": "; ".join(error.describe() for error in self.preview.errors_of(row)) if row.errors else match,
            "action": action.value if action else "",
            "choices": choices,
            "action_label": _(ACTION_LABELS[action])
            if action and row.match
            else (_("Create") if action else pgettext("import row", "Rejected")),
        }

    def show_preview(self) -> None:
        assert self.preview is not None
        preview = self.preview
        self.show_step(2)
        shown = {"status": "all"}
        with self.body:
            with ui.row().classes("gap-6 items-center"):
                for status, marker in (
                    (RowStatus.VALID, "count-valid"),
                    (RowStatus.DUPLICATE, "count-duplicate"),
                    (RowStatus.ERROR, "count-error"),
                ):
                    with ui.row().classes("items-center gap-1"):
                        ui.badge(str(preview.count(status)), color=STATUS_COLORS[status]).mark(marker)
                        ui.label(_(STATUS_LABELS[status]))
            with ui.row().classes("items-center gap-4 w-full"):
                ui.select(
                    {a.value: _(label) for a, label in ACTION_LABELS.items()},
                    label=_("For duplicates"),
                    value=self.default_action.value,
                    on_change=lambda e: change_default(e.value),
                ).props("dense outlined options-dense").classes("w-72").mark("default-action")
                ui.select(
                    {
                        "all": _("All rows"),
                        RowStatus.ERROR.value: _("Errors"),
                        RowStatus.DUPLICATE.value: _("Duplicates"),
                        RowStatus.VALID.value: _("Valid"),
                    },
                    label=_("Show"),
                    value="all",
                    on_change=lambda e: change_filter(e.value),
                ).props("dense outlined options-dense").classes("w-48").mark("row-filter")
                ui.label(
                    _(
                        "A duplicate sharing a FINESS, SIRET or accounting number can be skipped or merged, "
                        "not created again."
                    )
                ).classes("text-caption text-grey-7 col")

            async def load(state: TableState) -> tuple[list[dict[str, Any]], int]:
                rows = (
                    preview.rows
                    if shown["status"] == "all"
                    else [r for r in preview.rows if r.status.value == shown["status"]]
                )
                start = (state.page - 1) * state.page_size
                return [self._row(r) for r in rows[start : start + state.page_size]], len(rows)

            columns = [
                {"name": "line", "label": _("Line"), "field": "line", "align": "right"},
                {"name": "status", "label": _("Status"), "field": "status", "align": "left"},
                {"name": "name", "label": _("Name"), "field": "name", "align": "left"},
                {"name": "city", "label": _("City"), "field": "city", "align": "left"},
                {
                    "name": "details",
                    "label": _("Errors or duplicate of"),
                    "field": "details",
                    "align": "left",
                    "classes": "text-wrap",
                    "style": "max-width: 28rem; white-space: normal",
                },
                {"name": "action", "label": _("Action"), "field": "action_label", "align": "left"},
            ]
            table = PagedTable(columns, load, row_key="line")
            table.table.mark("preview-table")
            table.table.add_slot(
                "body-cell-status",
                """
                <q-td :props="props"><q-badge :color="props.row.color" :label="props.value" /></q-td>""",
            )
            table.table.add_slot(
                "body-cell-action",
                """
                <q-td :props="props">
                  <q-select v-if="props.row.choices.length" dense options-dense emit-value map-options borderless
                    :options="props.row.choices" :model-value="props.row.action"
                    @update:model-value="value => $parent.$emit('override', {line: props.row.line, action: value})" />
                  <span v-else>{{ props.value }}</span>
                </q-td>""",
            )

            async def override(event: events.GenericEventArguments) -> None:
                line, action = int(event.args["line"]), Action(event.args["action"])
                self.overrides[line] = action
                await table.refresh()

            async def change_default(value: str) -> None:
                self.default_action = Action(value)
                await table.refresh()

            async def change_filter(value: str) -> None:
                shown["status"] = value
                await table.refresh(first_page=True)

            table.table.on("override", override)
            with ui.row().classes("gap-2 q-mt-md"):
                ui.button(_("Back"), on_click=self.show_mapping).props("flat")
                ui.button(_("Import"), icon="upload", on_click=self.start_import).props("unelevated").mark(
                    "start-import"
                )
            ui.timer(0, table.refresh, once=True)

    # 4. Import ----------------------------------------------------------------------------------

    async def start_import(self) -> None:
        assert self.preview is not None
        self.show_step(3)
        progress = _Progress(total=len(self.preview.rows))
        with self.body:
            ui.label(_("Importing… Please keep this page open.")).classes("text-subtitle1")
            # Indeterminate while the rows are checked again, then the share of rows done.
            bar = (
                ui.linear_progress(value=0, show_value=False, size="12px")
                .props("indeterminate")
                .classes("w-full max-w-xl")
                .mark("progress")
            )
            counter = ui.label().classes("text-grey-7").mark("progress-count")

        def refresh() -> None:
            if progress.done and "indeterminate" in bar.props:
                bar.props(remove="indeterminate")
            bar.value = progress.done / progress.total if progress.total else 0
            counter.text = _(
                "{done} of {total} rows", done=format_decimal(progress.done), total=format_decimal(progress.total)
            )

        report: ImportReport | None = None
        with self.body:  # the button that got here is gone: the body is the context of what follows
            timer = ui.timer(0.2, refresh)
            try:
                report = await call(
                    imports.run_import,
                    self.content,
                    self.mapping,
                    default_action=self.default_action,
                    overrides=dict(self.overrides),
                    on_progress=progress.update,
                    client=client_info(),
                    file_name=self.file_name,
                )
            except Exception:  # anything unexpected: the unit of work was rolled back
                log.exception("CSV import failed")
                ui.notify(_("The import failed. Nothing was imported."), type="negative")
            finally:
                timer.cancel()
        if report is None:
            self.show_preview()
            return
        refresh()
        self.report = report
        self.show_report()

    # 5. Report ----------------------------------------------------------------------------------

    def show_report(self) -> None:
        assert self.report is not None
        report = self.report
        self.show_step(4)
        with self.body:
            ui.label(_("The file was imported.")).classes("text-subtitle1")
            with ui.grid(columns=2).classes("gap-x-8 gap-y-1"):
                for label, value, marker in (
                    (pgettext("import report", "Created"), report.created, "report-created"),
                    (pgettext("import report", "Merged"), report.merged, "report-merged"),
                    (pgettext("import report", "Skipped"), report.skipped, "report-skipped"),
                    (pgettext("import report", "Rejected"), report.rejected, "report-rejected"),
                ):
                    ui.label(label).classes("text-grey-7")
                    ui.label(format_decimal(value)).classes("text-weight-medium").mark(marker)
            if report.rejected_rows:
                rejected = report.rejected_rows

                async def load(state: TableState) -> tuple[list[dict[str, Any]], int]:
                    start = (state.page - 1) * state.page_size
                    return [
                        {"line": row.line, "reasons": "; ".join(error.describe() for error in report.errors_of(row))}
                        for row in rejected[start : start + state.page_size]
                    ], len(rejected)

                table = PagedTable(
                    [
                        {"name": "line", "label": _("Line"), "field": "line", "align": "right"},
                        {
                            "name": "reasons",
                            "label": _("Reason"),
                            "field": "reasons",
                            "align": "left",
                            "style": "white-space: normal",
                        },
                    ],
                    load,
                    row_key="line",
                )
                table.table.mark("rejected-table")
                ui.timer(0, table.refresh, once=True)
            with ui.row().classes("gap-2 q-mt-md"):
                if report.rejected_rows:
                    ui.button(_("Download the rejected rows"), icon="download", on_click=self.download_rejected).props(
                        "unelevated"
                    ).mark("download-rejected")
                ui.button(_("Import another file"), on_click=self.show_upload).props("flat").mark("again")
                ui.button(_("See the institutions"), on_click=lambda: ui.navigate.to("/institutions")).props("flat")

    async def download_rejected(self) -> None:
        assert self.report is not None
        data = await run.io_bound(imports.rejected_rows_csv, self.report, locale=current_locale())
        if data is not None:
            ui.download(data, _("rejected-rows.csv"), media_type="text/csv")


@app_page(
    "/institutions/import", title=N_("Import institutions"), permission="institution.import", parent="/institutions"
)
async def institution_import_page() -> None:
    with ui.column().classes("w-full gap-4"):
        steps = ui.row().classes("items-center gap-1").props(f'aria-label="{_("Import steps")}"')
        body = ui.column().classes("w-full gap-3")
    _Wizard(body=body, steps=steps).show_upload()
