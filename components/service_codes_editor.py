"""The Chorus Pro service codes of an institution in its form: one row per code (code, optional label),
rows added and removed in place. It reads like the form's other inputs (`value`, `error`, `enabled`,
`mark`), so the form collects it and the service's message lands under it."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from crm_app.institutions.service_codes import CODE_MAX_LENGTH, LABEL_MAX_LENGTH
from crm_app.platform.i18n import gettext as _


class ServiceCodesEditor:
    def __init__(self, codes: list[dict[str, Any]], *, label: str) -> None:
        self.enabled = True
        self.rows: list[tuple[ui.input, ui.input, ui.row]] = []
        with ui.column().classes("w-full gap-1") as self.root:
            ui.label(label).classes("text-grey-8")
            self.rows_box = ui.column().classes("w-full gap-1")
            self.message = ui.label().classes("text-negative text-caption").mark("service-codes-error")
            self.message.set_visibility(False)
            add = ui.button(_("Add a service code"), icon="add").props("flat dense no-caps")
            add.mark("service-code-add")
            add.on_click(lambda: self.add_row())  # noqa: PLW0108 - not the click event as the code
        for code in codes:
            self.add_row(code.get("code") or "", code.get("label") or "")

    def add_row(self, code: str = "", label: str = "") -> None:
        with self.rows_box, ui.row().classes("w-full items-center gap-2 no-wrap") as row:
            code_input = (
                ui.input(_("Service code"), value=code)
                .props(f"dense maxlength={CODE_MAX_LENGTH}")
                .classes("w-48")
                .mark("service-code")
            )
            label_input = (
                ui.input(_("Label (optional)"), value=label)
                .props(f"dense maxlength={LABEL_MAX_LENGTH}")
                .classes("flex-1")
                .mark("service-code-label")
            )
            remove = ui.button(icon="delete").props("flat dense round").mark("service-code-remove")
        entry = (code_input, label_input, row)
        remove.on_click(lambda: self._remove(entry))
        self.rows.append(entry)

    def _remove(self, entry: tuple[ui.input, ui.input, ui.row]) -> None:
        self.rows.remove(entry)
        entry[2].delete()

    @property
    def value(self) -> list[dict[str, Any]]:
        return [{"code": code.value, "label": label.value} for code, label, _row in self.rows]

    @property
    def error(self) -> str | None:
        return self.message.text or None

    @error.setter
    def error(self, message: str | None) -> None:
        self.message.text = message or ""
        self.message.set_visibility(bool(message))

    def mark(self, marker: str) -> ServiceCodesEditor:
        self.root.mark(marker)
        return self
