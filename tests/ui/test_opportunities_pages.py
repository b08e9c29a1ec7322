"""/opportunities, /opportunities/{id} and the institution's Opportunities tab with NiceGUI's simulated
user: the board's counts and sums, a card moved through its menu and by drag and drop, the lost
reason asked first, the list's filters in the URL, the detail page's actions, the institution tab,
the lost reasons' admin list, and the live board seen by a second user."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from components.opportunity_dialog import stage_name, sums_text
from crm_app.activities.models import Call, Task
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import gettext, ngettext
from crm_app.platform.models.comments import Comment
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import Actor
from crm_app.sales import opportunities
from crm_app.sales.models.opportunities import LostReason, Opportunity, OpportunityStage
from tests.institution_factories import make_institution
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows


@dataclass(frozen=True)
class Place:
    id: uuid.UUID
    name: str


def _institution(name: str) -> Place:
    with unit_of_work() as session:
        return Place(make_institution(session, name=name).id, name)


def _opportunity(actor: Actor, institution: Place, name: str, amount: str, **values: Any) -> uuid.UUID:
    with unit_of_work() as session:
        raw = {"name": name, "institution_id": institution.id, "amount": amount, **values}
        return opportunities.create_opportunity(session, actor, raw).id


def _stored(opportunity_id: uuid.UUID) -> Opportunity:
    with unit_of_work() as session:
        found = session.get(Opportunity, opportunity_id)
        assert found is not None
        session.expunge(found)
        return found


def _text(user: User, marker: str) -> str:
    return str(element(user, marker).text)


def _column_of(user: User, opportunity_id: uuid.UUID) -> str | None:
    """The stage column that holds the opportunity's card on the board."""
    cards: set[ui.element] = user._gather_elements(None, None, f"opportunity-card-{opportunity_id}", None)
    if not cards:
        return None
    found: ui.element | None = next(iter(cards))
    while found is not None:
        for marker in found._markers:
            if marker.startswith("board-column-"):
                return marker.removeprefix("board-column-")
        found = found.parent_slot.parent if found.parent_slot else None
    return None


def _count(model: Any) -> int:
    with unit_of_work() as session:
        return len(session.exec(select(model)).all())


def _activities(count: int) -> str:
    return ngettext("{count} activity", "{count} activities", count, count=count)


def _shown(user: User, marker: str) -> bool:
    return bool(user._gather_elements(None, None, marker, None))


def _shown_order(user: User) -> list[uuid.UUID]:
    """The lost reasons' ids in the order the settings section shows them."""
    found: set[ui.element] = user._gather_elements(None, None, "lost-reasons", None)
    (column,) = found
    prefix = "lost-reason-"
    rows = column.default_slot.children
    return [uuid.UUID(m[len(prefix) :]) for row in rows for m in row._markers if m.startswith(prefix)]


async def _board(user: User, email: str, path: str = "/opportunities") -> None:
    await log_in(user, email, path=f"/login?redirect_to={path}")
    await user.should_see(marker="opportunities-board", retries=50)


async def test_the_board_shows_each_stage_with_its_count_and_sums(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    _opportunity(me, clinic, "Endoscopie", "1000.00", stage="proposal")
    _opportunity(me, clinic, "Stérilisation", "3000.50", stage="proposal")
    _opportunity(me, clinic, "Imagerie", "2000.00", stage="negotiation", probability=60)
    await _board(ui_user, "claire@example.org")
    await eventually(lambda: _text(ui_user, "board-count-proposal") == "2", "the proposal column's count")
    assert _text(ui_user, "board-summary-proposal") == sums_text(2, Decimal("4000.50"), Decimal("2000.25"))
    assert _text(ui_user, "board-summary-negotiation") == sums_text(1, Decimal("2000.00"), Decimal("1200.00"))
    assert _text(ui_user, "board-count-won") == "0"
    assert _text(ui_user, "opportunity-count") == ngettext("{count} opportunity", "{count} opportunities", 3, count=3)


async def test_moving_a_card_to_won_through_its_menu_changes_the_column_totals(
    ui_user: User, account: Callable[..., str]
) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    moved = _opportunity(me, clinic, "Endoscopie", "1500.00", stage="negotiation")
    _opportunity(me, clinic, "Imagerie", "500.00", stage="negotiation")
    await _board(ui_user, "claire@example.org")
    await eventually(lambda: _text(ui_user, "board-count-negotiation") == "2", "the board was not loaded")
    ui_user.find(marker=f"board-move-{moved}-won").click()
    await eventually(lambda: _text(ui_user, "board-count-won") == "1", "the won column's count did not change")
    assert _text(ui_user, "board-summary-won") == sums_text(1, Decimal("1500.00"), Decimal("1500.00"))
    assert _text(ui_user, "board-count-negotiation") == "1"
    assert _text(ui_user, "board-summary-negotiation") == sums_text(1, Decimal("500.00"), Decimal("375.00"))
    assert _column_of(ui_user, moved) == "won"
    assert _stored(moved).stage == OpportunityStage.WON


async def test_a_card_dropped_on_lost_asks_the_reason_and_moves_only_once_given(
    ui_user: User, account: Callable[..., str]
) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    sale = _opportunity(me, clinic, "Endoscopie", "1500.00", stage="proposal")
    await _board(ui_user, "claire@example.org")
    await eventually(lambda: _column_of(ui_user, sale) == "proposal", "the card is not shown")

    ui_user.find(marker="board-column-lost").trigger("drop", str(sale))
    await ui_user.should_see(marker="lost-dialog")
    assert _column_of(ui_user, sale) == "proposal"  # nothing moves before the reason
    ui_user.find(marker="lost-cancel").click()
    await eventually(lambda: not _shown(ui_user, "lost-dialog"), "the dialog did not close")
    assert _stored(sale).stage == OpportunityStage.PROPOSAL
    assert _column_of(ui_user, sale) == "proposal"

    ui_user.find(marker="board-column-lost").trigger("drop", str(sale))
    await ui_user.should_see(marker="lost-dialog")
    ui_user.find(marker="lost-confirm").click()  # no reason given: refused, next to the field
    reason = element(ui_user, "lost-reason")
    await eventually(lambda: bool(reason.props.get("error")), "no message next to the reason")
    assert _stored(sale).stage == OpportunityStage.PROPOSAL
    with unit_of_work() as session:
        listed = opportunities.list_lost_reasons(session)[1]
    reason.value = str(listed.id)
    ui_user.find(marker="lost-text").type("Moins cher chez le concurrent")
    ui_user.find(marker="lost-confirm").click()
    await eventually(lambda: _column_of(ui_user, sale) == "lost", "the card did not move to lost")
    stored = _stored(sale)
    assert (stored.stage, stored.lost_reason_id) == (OpportunityStage.LOST, listed.id)
    assert stored.lost_reason_text == "Moins cher chez le concurrent"
    await eventually(lambda: not _shown(ui_user, "lost-dialog"), "the dialog did not close")


async def test_a_column_shows_more_cards_on_demand(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    ids = [_opportunity(me, clinic, f"Vente {n:02d}", "100.00") for n in range(opportunities.BOARD_PAGE_SIZE + 3)]
    await _board(ui_user, "claire@example.org")
    await eventually(lambda: _text(ui_user, "board-count-prospecting") == str(len(ids)), "the board was not loaded")
    shown = [i for i in ids if _column_of(ui_user, i) == "prospecting"]
    assert len(shown) == opportunities.BOARD_PAGE_SIZE
    ui_user.find(marker="board-more-prospecting").click()
    await eventually(lambda: all(_column_of(ui_user, i) == "prospecting" for i in ids), "the next cards were not added")
    assert not _shown(ui_user, "board-more-prospecting")


async def test_the_list_reads_its_filters_from_the_url_and_writes_them_back(
    ui_user: User, account: Callable[..., str]
) -> None:
    me = actor_for(account())
    other = actor_for(account(email="olga@example.org", name="Olga Other", role=Role.USER))
    clinic, hospital = _institution("Clinique des Cèdres"), _institution("Hôpital Nord")
    _opportunity(me, clinic, "Endoscopie", "5000.00", stage="proposal", expected_close_date="2027-03-10")
    _opportunity(me, hospital, "Imagerie", "9000.00", stage="proposal", expected_close_date="2027-06-01")
    _opportunity(me, clinic, "Petit matériel", "300.00", stage="proposal")
    _opportunity(me, clinic, "Stérilisation", "7000.00", stage="qualification")
    _opportunity(other, clinic, "Not Claire's", "8000.00", stage="proposal")  # not visible to Claire

    def names() -> list[str]:
        return sorted(row["name"] for row in table_rows(ui_user, "opportunities-table"))

    await log_in(
        ui_user,
        "claire@example.org",
        path="/login?redirect_to=/opportunities?view=list%26stage=proposal%26amount_min=1000",
    )
    await eventually(lambda: names() == ["Endoscopie", "Imagerie"], f"the URL's filters: {names()}")
    element(ui_user, "filter-close_to").value = "2027-04-30"
    await eventually(lambda: names() == ["Endoscopie"], f"the close date filter: {names()}")
    assert _text(ui_user, "list-sum-amount") == gettext("Total: {amount}", amount="5 000,00 €") or "5" in _text(
        ui_user, "list-sum-amount"
    )
    element(ui_user, "filter-close_to").value = ""
    element(ui_user, "filter-stage").value = []
    element(ui_user, "search").value = "clinique"
    await eventually(lambda: names() == ["Endoscopie", "Stérilisation"], f"the search: {names()}")

    await ui_user.open(f"/opportunities?view=list&institution={hospital.id}")
    await eventually(lambda: names() == ["Imagerie"], f"the institution filter: {names()}")
    picker = element(ui_user, "filter-institution")
    assert picker.options[picker.value] == "Hôpital Nord"
    ui_user.find(marker="clear-filters").click()
    await eventually(
        lambda: names() == ["Endoscopie", "Imagerie", "Petit matériel", "Stérilisation"], f"cleared: {names()}"
    )


async def test_a_saved_view_opens_the_same_filters(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    _opportunity(me, clinic, "Endoscopie", "5000.00", stage="proposal")
    _opportunity(me, clinic, "Stérilisation", "7000.00", stage="qualification")
    await log_in(
        ui_user, "claire@example.org", path="/login?redirect_to=/opportunities?view=list%26stage=qualification"
    )
    await eventually(
        lambda: [r["name"] for r in table_rows(ui_user, "opportunities-table")] == ["Stérilisation"], "not filtered"
    )
    ui_user.find(marker="save-view").click()
    ui_user.find(marker="view-name").type("Qualifiées")
    ui_user.find(marker="view-save").click()
    views = element(ui_user, "saved-views")
    await eventually(lambda: list(views.options.values()) == ["Qualifiées"], "the view is not listed")
    await ui_user.open("/opportunities?view=list")
    await eventually(lambda: len(table_rows(ui_user, "opportunities-table")) == 2, "the whole list")
    views = element(ui_user, "saved-views")
    await eventually(lambda: bool(views.options), "the views are not read")
    views.value = next(iter(views.options))
    await eventually(
        lambda: [r["name"] for r in table_rows(ui_user, "opportunities-table")] == ["Stérilisation"],
        "the saved view's filter is not applied",
    )


async def test_the_new_opportunity_dialog_shows_errors_then_creates(ui_user: User, account: Callable[..., str]) -> None:
    actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    await _board(ui_user, "claire@example.org")
    ui_user.find(marker="new-opportunity").click()
    await ui_user.should_see(marker="opportunity-dialog")
    assert gettext(
        "Probability left empty: {percent} %, the default of the stage “{stage}”.",
        percent=10,
        stage=stage_name(OpportunityStage.PROSPECTING),
    ) == _text(ui_user, "opportunity-probability-default")
    element(ui_user, "opportunity-stage").value = "proposal"
    assert "50" in _text(ui_user, "opportunity-probability-default")
    ui_user.find(marker="opportunity-save").click()
    name = element(ui_user, "opportunity-name")
    await eventually(lambda: bool(name.props.get("error")), "no message next to the name")
    name.value = "Colonne d'endoscopie"
    element(ui_user, "opportunity-institution").select_record(clinic.id, clinic.name)
    element(ui_user, "opportunity-amount").value = "12 500,50"
    ui_user.find(marker="opportunity-save").click()
    await eventually(lambda: _text(ui_user, "board-count-proposal") == "1", "the new sale is not on the board")
    with unit_of_work() as session:
        stored = session.exec(select(Opportunity)).one()
        assert (stored.name, stored.amount, stored.probability) == ("Colonne d'endoscopie", Decimal("12500.50"), 50)


async def test_the_opportunity_page_moves_edits_and_deletes(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    sale = _opportunity(me, clinic, "Endoscopie", "1000.00", stage="qualification")
    await log_in(ui_user, "claire@example.org", path=f"/login?redirect_to=/opportunities/{sale}")
    await ui_user.should_see(marker="opportunity-name", retries=50)
    assert _text(ui_user, "opportunity-stage") == stage_name(OpportunityStage.QUALIFICATION)
    assert len(table_rows(ui_user, "stage-history")) == 1

    ui_user.find(marker="stage-chip-negotiation").click()
    await eventually(
        lambda: _text(ui_user, "opportunity-stage") == stage_name(OpportunityStage.NEGOTIATION), "not moved"
    )
    await eventually(lambda: len(table_rows(ui_user, "stage-history")) == 2, "the stage history did not grow")
    assert "75" in _text(ui_user, "fact-probability")

    ui_user.find(marker="stage-chip-lost").click()
    await ui_user.should_see(marker="lost-dialog")
    ui_user.find(marker="lost-text").type("Budget gelé")
    ui_user.find(marker="lost-confirm").click()
    await eventually(lambda: _text(ui_user, "opportunity-stage") == stage_name(OpportunityStage.LOST), "not lost")
    assert "Budget gelé" in _text(ui_user, "fact-lost-reason")

    ui_user.find(marker="edit-opportunity").click()
    await ui_user.should_see(marker="opportunity-dialog")
    element(ui_user, "opportunity-amount").value = "2500"
    ui_user.find(marker="opportunity-save").click()
    await eventually(lambda: "2" in _text(ui_user, "fact-amount") and "500" in _text(ui_user, "fact-amount"), "amount")
    assert _stored(sale).amount == Decimal("2500.00")

    ui_user.find(marker="delete-opportunity").click()
    ui_user.find(marker="confirm-yes").click()
    await ui_user.should_see(marker="opportunities-board", retries=50)
    with unit_of_work() as session:
        assert session.get(Opportunity, sale) is None


async def test_a_stale_save_says_who_changed_the_opportunity(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    manager = actor_for(account(email="marc@example.org", name="Marc Manager", role=Role.ADMIN))
    clinic = _institution("Clinique des Cèdres")
    sale = _opportunity(me, clinic, "Endoscopie", "1000.00")
    await log_in(ui_user, "claire@example.org", path=f"/login?redirect_to=/opportunities/{sale}")
    await ui_user.should_see(marker="opportunity-name", retries=50)
    ui_user.find(marker="edit-opportunity").click()
    await ui_user.should_see(marker="opportunity-dialog")
    with unit_of_work() as session:
        opportunities.update_opportunity(session, manager, sale, {"amount": "900"}, expected_version=1)
    await ui_user.should_see(marker="stale-message", retries=50)
    assert "Marc Manager" in _text(ui_user, "stale-message")
    element(ui_user, "opportunity-amount").value = "2000"
    ui_user.find(marker="opportunity-save").click()
    await ui_user.should_see("Marc Manager", retries=20)
    assert _stored(sale).amount == Decimal("900.00")


async def test_create_a_quote_opens_the_editor_filled_for_the_opportunity(
    ui_user: User, account: Callable[..., str]
) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    sale = _opportunity(me, clinic, "Endoscopie", "1000.00")
    await log_in(ui_user, "claire@example.org", path=f"/login?redirect_to=/opportunities/{sale}")
    await ui_user.should_see(marker="opportunity-name", retries=50)
    ui_user.find(marker="create-quote").click()
    await ui_user.should_see(marker="quote-form", retries=50)
    picker = element(ui_user, "quote-institution")
    assert picker.options[picker.value] == "Clinique des Cèdres"


async def test_the_institution_tab_lists_its_opportunities_and_creates_one(
    ui_user: User, account: Callable[..., str]
) -> None:
    me = actor_for(account())
    clinic, hospital = _institution("Clinique des Cèdres"), _institution("Hôpital Nord")
    _opportunity(me, clinic, "Endoscopie", "1000.00")
    _opportunity(me, hospital, "Imagerie", "2000.00")
    await log_in(ui_user, "claire@example.org", path=f"/login?redirect_to=/institutions/{clinic.id}?tab=opportunities")

    def names() -> list[str]:
        return sorted(r["name"] for r in table_rows(ui_user, "institution-opportunities-table"))

    await eventually(lambda: names() == ["Endoscopie"], f"the tab lists {names()}")
    ui_user.find(marker="new-opportunity").click()
    await ui_user.should_see(marker="opportunity-dialog")
    picker = element(ui_user, "opportunity-institution")
    assert picker.options[picker.value] == "Clinique des Cèdres"
    element(ui_user, "opportunity-name").value = "Stérilisation"
    ui_user.find(marker="opportunity-save").click()
    await eventually(lambda: names() == ["Endoscopie", "Stérilisation"], f"the tab lists {names()}")


async def test_an_admin_edits_the_lost_reasons(ui_user: User, account: Callable[..., str]) -> None:
    account(role=Role.ADMIN)
    with unit_of_work() as session:
        first = opportunities.list_lost_reasons(session)[0]
    await log_in(ui_user, "claire@example.org", path="/login?redirect_to=/admin/settings")
    await ui_user.should_see(marker=f"lost-reason-label-{first.id}", retries=50)
    shown = len(_shown_order(ui_user))
    ui_user.find(marker="lost-reason-new").type("Délai de livraison")
    ui_user.find(marker="lost-reason-add").click()
    # (not `should_see` the text: the new reason's own field shows it before it is added)
    await eventually(lambda: len(_shown_order(ui_user)) == shown + 1, "the reason was not added")
    assert element(ui_user, "lost-reason-new").value == ""

    def stored() -> LostReason:
        with unit_of_work() as session:
            reason = session.get(LostReason, first.id)
            assert reason is not None
            return reason

    element(ui_user, f"lost-reason-label-{first.id}").value = "Prix trop élevé pour le client"
    ui_user.find(marker=f"lost-reason-save-{first.id}").click()
    await eventually(lambda: stored().label == "Prix trop élevé pour le client", "the reason was not renamed")
    # The buttons read the reason's version when clicked: the rename's new version is not stale.
    ui_user.find(marker=f"lost-reason-down-{first.id}").click()
    await eventually(lambda: stored().position == 1, "the reason did not move down")
    await eventually(lambda: _shown_order(ui_user).index(first.id) == 1, f"shown in order {_shown_order(ui_user)}")
    ui_user.find(marker=f"lost-reason-retire-{first.id}").click()
    await eventually(lambda: not stored().is_active, "the reason was not retired")
    assert stored().version == 4  # renamed, moved, retired: no change refused as a conflict
    await ui_user.should_see(marker=f"lost-reason-retired-{first.id}")
    with unit_of_work() as session:
        labels = [r.label for r in opportunities.list_lost_reasons(session)]
    assert "Délai de livraison" in labels and "Prix trop élevé pour le client" not in labels


async def test_a_lost_reason_changed_by_another_admin_meanwhile_is_refused_and_shown_anew(
    ui_user: User, account: Callable[..., str]
) -> None:
    account(role=Role.ADMIN)
    other = actor_for(account(email="marc@example.org", name="Marc Manager", role=Role.ADMIN))
    with unit_of_work() as session:
        first = opportunities.list_lost_reasons(session)[0]
    await log_in(ui_user, "claire@example.org", path="/login?redirect_to=/admin/settings")
    await ui_user.should_see(marker=f"lost-reason-retire-{first.id}", retries=50)
    with unit_of_work() as session:
        opportunities.update_lost_reason(session, other, first.id, is_active=False, expected_version=first.version)

    element(ui_user, f"lost-reason-label-{first.id}").value = "Prix trop élevé pour le client"
    ui_user.find(marker=f"lost-reason-save-{first.id}").click()
    conflict = gettext("This record was changed by someone else.")
    await eventually(lambda: ui_user.notify.contains(conflict), "no conflict")
    # The refused rename keeps what was typed; the name stays as Marc left it.
    assert element(ui_user, f"lost-reason-label-{first.id}").value == "Prix trop élevé pour le client"
    ui_user.find(marker=f"lost-reason-retire-{first.id}").click()  # still drawn as active: Retire
    await ui_user.should_see(marker=f"lost-reason-retired-{first.id}", retries=50)  # the list as Marc left it
    with unit_of_work() as session:
        stored = session.get(LostReason, first.id)
        assert stored is not None and not stored.is_active and stored.version == 2
        assert stored.label == first.label


async def test_the_live_board_follows_a_move_made_by_another_user(
    ui_user: User, create_user: Callable[[], User], account: Callable[..., str]
) -> None:
    me = actor_for(account())
    account(email="marc@example.org", name="Marc Manager", role=Role.ADMIN)
    clinic = _institution("Clinique des Cèdres")
    sale = _opportunity(me, clinic, "Endoscopie", "1500.00", stage="negotiation")
    await _board(ui_user, "claire@example.org")
    await eventually(lambda: _column_of(ui_user, sale) == "negotiation", "Claire's board is not loaded")

    other = create_user()
    await _board(other, "marc@example.org")
    await eventually(lambda: _column_of(other, sale) == "negotiation", "Marc's board is not loaded")
    other.find(marker=f"board-move-{sale}-won").click()
    await eventually(lambda: _column_of(other, sale) == "won", "Marc's move is not shown to Marc")
    await eventually(lambda: _column_of(ui_user, sale) == "won", "Claire's board does not follow Marc's move")
    assert _text(ui_user, "board-count-won") == "1"
    assert _text(ui_user, "board-summary-won") == sums_text(1, Decimal("1500.00"), Decimal("1500.00"))


async def test_activities_added_on_the_opportunity_page_are_linked_to_it(
    ui_user: User, account: Callable[..., str]
) -> None:
    me = actor_for(account())
    clinic = _institution("Clinique des Cèdres")
    sale = _opportunity(me, clinic, "Endoscopie", "1000.00")
    await log_in(ui_user, "claire@example.org", path=f"/login?redirect_to=/opportunities/{sale}")
    await ui_user.should_see(marker="no-activities", retries=50)

    ui_user.find(marker="add-task").click()
    await ui_user.should_see(marker="task-opportunity")
    element(ui_user, "task-title").value = "Relancer le bloc"
    ui_user.find(marker="task-save").click()
    await eventually(lambda: _count(Task) == 1, "the task was not saved")
    await eventually(lambda: not _shown(ui_user, "task-dialog"), "the task dialog did not close")
    await eventually(lambda: _text(ui_user, "activity-count") == _activities(1), "the task is not listed")

    ui_user.find(marker="add-call").click()
    await ui_user.should_see(marker="call-opportunity")
    element(ui_user, "call-summary").value = "Appel du cadre de bloc"
    ui_user.find(marker="call-save").click()
    await eventually(lambda: _count(Call) == 1, "the call was not saved")
    await eventually(lambda: _text(ui_user, "activity-count") == _activities(2), "the call is not listed")
    with unit_of_work() as session:
        task = session.exec(select(Task)).one()
        logged = session.exec(select(Call)).one()
        assert (task.opportunity_id, task.institution_id) == (sale, clinic.id)
        assert (logged.opportunity_id, logged.institution_id) == (sale, clinic.id)


async def test_comments_on_the_opportunity_page(ui_user: User, account: Callable[..., str]) -> None:
    me = actor_for(account())
    sale = _opportunity(me, _institution("Clinique des Cèdres"), "Endoscopie", "1000.00")
    await log_in(ui_user, "claire@example.org", path=f"/login?redirect_to=/opportunities/{sale}")
    await ui_user.should_see(marker="tab-comments", retries=50)
    ui_user.find(marker="tab-comments").click()
    ui_user.find(marker="comment-input").type("Le chef de bloc est convaincu")
    ui_user.find(marker="comment-submit").click()
    await ui_user.should_see(marker="comment", retries=50)
    with unit_of_work() as session:
        stored = session.exec(select(Comment)).one()
        assert (stored.target_kind, stored.target_id, stored.body) == (
            "opportunity",
            sale,
            "Le chef de bloc est convaincu",
        )
