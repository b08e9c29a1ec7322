"""Create or edit an opportunity in a dialog (name, institution, a contact of that institution, owner,
amount, probability with the stage's default shown, expected close date, source, description), and
the dialog that asks why a sale was lost before it moves to `lost`. The service's messages show next
to their field; a save over someone else's newer change is refused with their name, and the dialog
says so while it is open (`live.StaleNotice`).

Also what the opportunity screens share: the stages' colours, a stage's or a source's name, the
amounts as shown, the cheap live-event test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from nicegui import ui
from sqlmodel import Session

from components import live
from components.backend import call
from components.dialogs import confirm, disposable
from components.pickers import as_uuid, contact_picker, institution_picker, show_choice_whole
from crm_app.activities import tasks
from crm_app.platform.events import Event, OpportunityChanged
from crm_app.platform.i18n import format_currency
from crm_app.platform.i18n import gettext as _
from crm_app.platform.permissions import Actor, Scope, scope_for
from crm_app.sales import opportunities
from crm_app.sales.models.opportunities import STAGE_PROBABILITY, OpportunitySource, OpportunityStage
from crm_app.sales.opportunities import SOURCE_LABELS, STAGE_LABELS, LostReasonRow, OpportunityDetail

OnSaved = Callable[[], Awaitable[Any]]

STAGE_COLORS: dict[OpportunityStage, str] = {
    OpportunityStage.PROSPECTING: "blue-grey",
    OpportunityStage.QUALIFICATION: "light-blue-8",
    OpportunityStage.PROPOSAL: "primary",
    OpportunityStage.NEGOTIATION: "deep-purple-5",
    OpportunityStage.WON: "positive",
    OpportunityStage.LOST: "negative",
}


def stage_name(stage: OpportunityStage) -> str:
    return _(STAGE_LABELS[stage])


def source_name(source: OpportunitySource | None) -> str:
    return _(SOURCE_LABELS[source]) if source is not None else ""


def money_text(value: Decimal) -> str:
    return format_currency(value)


def sums_text(count: int, amount: Decimal, weighted: Decimal) -> str:
    """The sums of a board column or of a list: the amount and the weighted amount."""
    if not count:
        return "—"
    return _("{amount} · weighted {weighted}", amount=money_text(amount), weighted=money_text(weighted))


def may_see(actor: Actor, event: Event) -> bool:
    """Cheap test, on the event loop, for every committed event: an opportunity the actor could see?"""
    if not isinstance(event, OpportunityChanged):
        return False
    if actor.id in (event.owner_id, event.actor_id):
        return True
    scope = scope_for(actor, "opportunity.view")
    return scope is Scope.ALL or (scope is Scope.TEAM and actor.team_id is not None and event.team_id == actor.team_id)


def _lost_reasons(session: Session, _actor: Actor) -> list[LostReasonRow]:
    return opportunities.list_lost_reasons(session)


def _owners(session: Session, actor: Actor) -> list[tuple[uuid.UUID, str]]:
    """The people the actor may give an opportunity to: those whose tasks they may assign share the
    same reach (own, team, all) as `opportunity.edit` for every role."""
    return tasks.assignable_users(session, actor)


def _deleted(session: Session, actor: Actor, opportunity_id: uuid.UUID, version: int) -> bool:
    opportunities.delete_opportunity(session, actor, opportunity_id, expected_version=version)
    return True


async def _nothing() -> None:
    return None


async def open_opportunity_dialog(
    opportunity_id: uuid.UUID | None = None,
    *,
    on_saved: Callable[[uuid.UUID], Awaitable[Any]] | None = None,
    on_deleted: OnSaved | None = None,
    institution: tuple[uuid.UUID, str] | None = None,
) -> None:
    """Open the dialog: a new opportunity (for `institution` when given) or the opportunity
    `opportunity_id`, read afresh so that its version is the one the user sees. `on_saved(id)` runs
    after a save, `on_deleted` after a deletion. Open it in an element the callbacks do not rebuild."""
    owners, detail = await asyncio.gather(
        call(_owners), call(opportunities.get_detail, opportunity_id) if opportunity_id else _nothing()
    )
    if owners is None or (opportunity_id is not None and detail is None):
        return
    OpportunityDialog(owners, detail, on_saved=on_saved, on_deleted=on_deleted, institution=institution).dialog.open()


class OpportunityDialog:
    """See `open_opportunity_dialog`."""

    def __init__(
        self,
        owners: list[tuple[uuid.UUID, str]],
        detail: OpportunityDetail | None,
        *,
        on_saved: Callable[[uuid.UUID], Awaitable[Any]] | None,
        on_deleted: OnSaved | None,
        institution: tuple[uuid.UUID, str] | None,
    ) -> None:
        self.detail = detail
        self.on_saved, self.on_deleted = on_saved, on_deleted
        self.home = ui.context.slot.parent  # where "Load their version" opens it again
        self.notice: live.StaleNotice | None = None
        people = {str(user_id): name for user_id, name in owners}
        if detail is not None and str(detail.owner_id) not in people:  # given by someone with a wider reach
            people[str(detail.owner_id)] = detail.owner_name
        institution_id, institution_name = (
            (detail.institution_id, detail.institution_name) if detail else (institution or (None, None))
        )
        self.stage = detail.stage if detail else OpportunityStage.PROSPECTING
        editable = detail is None or detail.can_edit
        f: dict[str, Any] = {}
        self.fields = f
        with ui.dialog() as self.dialog, ui.card().classes("w-[44rem] max-w-full").mark("opportunity-dialog"):
            with ui.row().classes("w-full items-center no-wrap"):
                ui.label(_("Edit the opportunity") if detail else _("New opportunity")).classes("text-h6")
                ui.space()
                ui.button(icon="close", on_click=self.dialog.close).props(f'flat round dense aria-label="{_("Close")}"')
            if detail is not None:
                self.notice = live.StaleNotice(
                    lambda event: (
                        isinstance(event, OpportunityChanged)
                        and event.opportunity_id == detail.id
                        and event.action != "delete"
                    ),
                    reload=self.reopen,
                )
            f["name"] = (
                ui.input(_("Name") + " *", value=detail.name if detail else "")
                .classes("w-full")
                .props("autofocus counter maxlength=200")
            )
            with ui.grid().classes("w-full gap-x-4 opex-form-grid"):
                f["institution_id"] = institution_picker(
                    _("Institution") + " *",
                    value=institution_id,
                    value_label=institution_name,
                    on_change=self._institution_changed,
                    clearable=False,
                )
                f["contact_id"] = contact_picker(
                    institution_id=institution_id,
                    value=detail.contact_id if detail else None,
                    value_label=detail.contact_name if detail else None,
                )
                f["owner_id"] = show_choice_whole(
                    ui.select(
                        people,
                        label=_("Owner"),
                        with_input=True,
                        value=str(detail.owner_id) if detail else next(iter(people), None),
                    )
                )
                if detail is None:
                    f["stage"] = ui.select(
                        {s.value: stage_name(s) for s in OpportunityStage if not s.is_closed},
                        label=_("Stage"),
                        value=OpportunityStage.PROSPECTING.value,
                        on_change=self._stage_changed,
                    )
                f["amount"] = ui.input(_("Amount excl. VAT (€)"), value=str(detail.amount) if detail else "").props(
                    "inputmode=decimal"
                )
                manual = detail is not None and detail.probability_is_manual
                f["probability"] = ui.number(
                    _("Probability (%)"), value=detail.probability if manual and detail else None, min=0, max=100
                ).props("clearable")
                f["expected_close_date"] = ui.input(
                    _("Expected close date"),
                    value=detail.expected_close_date.isoformat() if detail and detail.expected_close_date else "",
                ).props("type=date stack-label clearable")
                f["source"] = ui.select(
                    {"": _("Not known"), **{s.value: source_name(s) for s in OpportunitySource}},
                    label=_("Source"),
                    value=detail.source.value if detail and detail.source else "",
                )
            self.default_hint = ui.label().classes("text-caption text-grey-7").mark("opportunity-probability-default")
            self._show_default()
            f["description"] = (
                ui.textarea(_("Description"), value=(detail.description or "") if detail else "")
                .classes("w-full")
                .props("autogrow")
            )
            for name, element in f.items():
                element.mark(f"opportunity-{name.removesuffix('_id')}")
                if not editable:
                    element.disable()
            with ui.row().classes("w-full q-mt-md items-center"):
                if detail is not None and detail.can_edit:
                    ui.button(
                        _("Delete"),
                        icon="delete",
                        on_click=lambda: confirm(
                            _("Delete the opportunity “{name}” and its stage history?", name=detail.name), self.delete
                        ),
                    ).props("flat no-caps color=negative").mark("opportunity-delete")
                ui.space()
                ui.button(_("Cancel") if editable else _("Close"), on_click=self.dialog.close).props("flat no-caps")
                if editable:
                    ui.button(_("Save"), on_click=self.save).props("unelevated no-caps").mark("opportunity-save")
        disposable(self.dialog)

    def _institution_changed(self, _event: Any) -> None:
        self.fields["contact_id"].set_institution(self.fields["institution_id"].selected_id)
        self.fields["contact_id"].set_value(None)

    def _stage_changed(self, event: Any) -> None:
        self.stage = OpportunityStage(event.value or OpportunityStage.PROSPECTING.value)
        self._show_default()

    def _show_default(self) -> None:
        """The probability the stage gives when the field is left empty."""
        self.default_hint.text = _(
            "Probability left empty: {percent} %, the default of the stage “{stage}”.",
            percent=STAGE_PROBABILITY[self.stage],
            stage=stage_name(self.stage),
        )

    def values(self) -> dict[str, Any]:
        f = self.fields
        probability = f["probability"].value
        values = {
            "name": f["name"].value or "",
            "institution_id": f["institution_id"].selected_id,
            "contact_id": f["contact_id"].selected_id,
            "owner_id": as_uuid(f["owner_id"].value),
            "amount": (f["amount"].value or "").strip().replace(" ", "").replace(",", ".") or None,
            "probability": int(probability) if probability not in (None, "") else None,
            "expected_close_date": f["expected_close_date"].value or None,
            "source": f["source"].value or None,
            "description": f["description"].value or "",
        }
        if "stage" in f:
            values["stage"] = f["stage"].value
        return values

    async def save(self) -> None:
        if self.notice is not None:
            self.notice.saving()
        with self.home:  # the confirmation outlives the dialog
            if self.detail is None:
                saved: Any = await call(opportunities.create_opportunity, self.values(), fields=self.fields)
            else:
                saved = await call(
                    opportunities.update_opportunity,
                    self.detail.id,
                    self.values(),
                    expected_version=self.detail.version,
                    fields=self.fields,
                )
            if self.notice is not None:
                self.notice.saved(saved is not None)
            if saved is None:
                return
            ui.notify(_("Opportunity “{name}” saved.", name=saved.name), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_saved is not None:
                await self.on_saved(saved.id)

    async def delete(self) -> None:
        assert self.detail is not None
        if self.notice is not None:
            self.notice.saving()
        with self.home:
            if not await call(_deleted, self.detail.id, self.detail.version):
                if self.notice is not None:
                    self.notice.saved(False)
                return
            ui.notify(_("Opportunity deleted."), type="positive")
            if not self.dialog.is_deleted:
                self.dialog.close()
            if self.on_deleted is not None:
                await self.on_deleted()

    async def reopen(self) -> None:
        """The opportunity as saved now, in a fresh dialog (what was typed here is dropped)."""
        assert self.detail is not None
        self.dialog.close()
        if not self.home.is_deleted:
            with self.home:
                await open_opportunity_dialog(self.detail.id, on_saved=self.on_saved, on_deleted=self.on_deleted)


Mover = Callable[[uuid.UUID | None, str | None, dict[str, Any]], Awaitable[bool]]


async def ask_lost_reason(name: str, move: Mover) -> None:
    """Ask why the sale `name` was lost (a reason of the list and/or a free text); `move(reason_id,
    text, fields)` moves it and says whether it did: the dialog stays open, with the service's message
    next to the field, until it did or the user cancels (then nothing moved)."""
    reasons = await call(_lost_reasons)
    if reasons is None:
        return
    with ui.dialog() as dialog, ui.card().classes("w-[32rem] max-w-full").mark("lost-dialog"):
        ui.label(_("Why was “{name}” lost?", name=name)).classes("text-h6")
        reason = (
            ui.select(
                {str(r.id): opportunities.lost_reason_label(r.label) for r in reasons},
                label=_("Reason"),
                clearable=True,
            )
            .classes("w-full")
            .mark("lost-reason")
        )
        text = (
            ui.textarea(_("In your words (optional with a reason of the list)"))
            .classes("w-full")
            .props("autogrow maxlength=2000")
            .mark("lost-text")
        )

        async def confirm_lost() -> None:
            done = await move(as_uuid(reason.value), (text.value or "").strip() or None, {"lost_reason_id": reason})
            if done and not dialog.is_deleted:
                dialog.close()

        with ui.row().classes("w-full justify-end"):
            ui.button(_("Cancel"), on_click=dialog.close).props("flat no-caps").mark("lost-cancel")
            ui.button(_("Mark as lost"), icon="thumb_down", on_click=confirm_lost).props(
                "unelevated no-caps color=negative"
            ).mark("lost-confirm")
    disposable(dialog).open()
