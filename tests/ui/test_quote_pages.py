"""/quotes, the quote editor and the quote's page with NiceGUI's simulated user: totals as you type
(computed by services.money, formatted for the locale), saving, a refused workflow move, rights on
direct URLs, filters restored from the URL, the line editor's catalog picker and reordering."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import col, select

from components import line_editor
from crm_app.institutions import contacts
from crm_app.platform.db import unit_of_work
from crm_app.platform.i18n import format_currency, gettext, ngettext, use_locale
from crm_app.platform.models.outbox import OutboxMessage
from crm_app.platform.models.people import Role
from crm_app.platform.permissions import SYSTEM_ACTOR
from crm_app.sales import invoices, money, quotes
from crm_app.sales.models.invoices import Invoice
from crm_app.sales.models.quotes import DiscountType, Quote, QuoteLine, QuoteStatus
from tests.factories import actor_of, make_team, make_user
from tests.institution_factories import make_buyer
from tests.sales_factories import make_accepted_quote, make_catalog_item, make_quote, make_sent_quote, quote_line
from tests.ui.conftest import actor_for, element, eventually, log_in, table_rows


def _english(user: User) -> None:
    user.http_client.headers["Accept-Language"] = "en"


def _en(translate: Callable[..., str], *args: Any, **params: Any) -> str:
    """A message as the English page shows it."""
    with use_locale("en"):
        return translate(*args, **params)


def _money(value: str) -> str:
    with use_locale("en"):
        return format_currency(Decimal(value))


def _text(user: User, marker: str) -> str | None:
    found: set[Any] = user._gather_elements(None, None, marker, None)
    return next(iter(found)).text if found else None


async def _open_new_quote(user: User, email: str, institution_id: uuid.UUID) -> None:
    await log_in(user, email, path=f"/login?redirect_to=/quotes/new?institution_id={institution_id}")
    await user.should_see(marker="line-0-quantity", retries=50)


async def test_a_quote_made_in_the_editor_shows_the_totals_as_you_type_and_saves(
    ui_user: User, account: Callable[..., str]
) -> None:
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        clinic = make_buyer(session, name="Clinique du Parc").id
    await _open_new_quote(ui_user, email, clinic)
    element(ui_user, "quote-title").value = "Endoscopy room"
    element(ui_user, "line-0-description").value = "Endoscope"
    element(ui_user, "line-0-quantity").value = "3"
    element(ui_user, "line-0-unit_price").value = "1 250,50"
    element(ui_user, "line-0-discount_value").value = "10"  # percent by default
    await eventually(lambda: _text(ui_user, "total-excl") == _money("3376.35"), "line 1 totals not shown")
    ui_user.find(marker="add-line").click()
    await ui_user.should_see(marker="line-1-quantity")
    element(ui_user, "line-1-description").value = "Training"
    element(ui_user, "line-1-quantity").value = "2"
    element(ui_user, "line-1-unit").value = "day"
    element(ui_user, "line-1-unit_price").value = "799.99"
    element(ui_user, "line-1-vat_rate").value = "5.5"
    element(ui_user, "line-1-discount_type").value = "amount"
    element(ui_user, "line-1-discount_value").value = "0.99"
    element(ui_user, "global-discount").value = "2,5"
    expected = money.compute_totals(
        [
            money.LineAmounts(Decimal("3"), Decimal("1250.50"), Decimal("20"), DiscountType.PERCENT, Decimal("10")),
            money.LineAmounts(Decimal("2"), Decimal("799.99"), Decimal("5.5"), DiscountType.AMOUNT, Decimal("0.99")),
        ],
        Decimal("2.5"),
    )
    await eventually(
        lambda: _text(ui_user, "total-incl") == _money(str(expected.total_incl_vat)),
        "the totals do not follow the typing",
    )
    assert _text(ui_user, "total-excl") == _money(str(expected.total_excl_vat))
    assert _text(ui_user, "total-vat") == _money(str(expected.total_vat))
    assert _text(ui_user, "total-vat-20") == _money(str(expected.vat_rows[0].vat))
    assert _text(ui_user, "total-vat-5.5") == _money(str(expected.vat_rows[1].vat))
    assert _text(ui_user, "line-1-net") == _money(str(expected.lines[1].net))
    # An unreadable quantity: its message next to it, no totals.
    element(ui_user, "line-1-quantity").value = "two"
    await eventually(
        lambda: element(ui_user, "line-1-quantity").error == _en(gettext, "Enter a number."),
        "no message next to the quantity",
    )
    await ui_user.should_see(marker="totals-pending")
    element(ui_user, "line-1-quantity").value = "2"
    ui_user.find(marker="save-quote").click()
    await ui_user.should_see(marker="quote-number", retries=50)
    with unit_of_work() as session:
        quote = session.exec(select(Quote)).one()
        lines = session.exec(select(QuoteLine).order_by(col(QuoteLine.position))).all()
    assert (quote.title, quote.status, quote.institution_id) == ("Endoscopy room", QuoteStatus.DRAFT, clinic)
    assert (quote.total_excl_vat, quote.total_vat, quote.total_incl_vat) == (
        expected.total_excl_vat,
        expected.total_vat,
        expected.total_incl_vat,
    )
    assert [(line.description, line.quantity, line.unit) for line in lines] == [
        ("Endoscope", Decimal("3.000"), "unit"),
        ("Training", Decimal("2.000"), "day"),
    ]
    assert _text(ui_user, "total-incl") == _money(str(expected.total_incl_vat))  # the detail page agrees


async def test_the_catalog_picker_fills_the_line_and_lines_reorder(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        clinic = make_buyer(session).id
        item = make_catalog_item(
            session, reference="END-7", name="Colonne vidéo", unit_price="9999.90", default_vat_rate="10", unit="kit"
        ).id
        make_catalog_item(session, reference="OLD-1", name="Colonne ancienne", is_active=False)
    await _open_new_quote(ui_user, email, clinic)
    picker = element(ui_user, "line-0-catalog")
    ui_user.find(marker="line-0-catalog").trigger("inputValue", "colonne")
    await eventually(lambda: len(picker.options) == 1, "the catalog picker did not search active items")
    picker.value = str(item)
    await eventually(lambda: element(ui_user, "line-0-unit_price").value == "9999.90", "the item did not fill the line")
    assert (
        element(ui_user, "line-0-description").value,
        element(ui_user, "line-0-reference").value,
        element(ui_user, "line-0-unit").value,
        element(ui_user, "line-0-vat_rate").value,
    ) == ("Colonne vidéo", "END-7", "kit", "10")
    ui_user.find(marker="add-line").click()
    await ui_user.should_see(marker="line-1-description")
    element(ui_user, "line-1-description").value = "Installation"
    element(ui_user, "line-1-unit_price").value = "500"
    ui_user.find(marker="line-1-up").click()
    await eventually(lambda: element(ui_user, "line-0-description").value == "Installation", "the line did not move")
    # Dropping the dragged line (its key travels in the drag data) on the first line puts it back first.
    dragged = element(ui_user, "line-1-description").value
    assert dragged == "Colonne vidéo"
    ui_user.find(marker="line-0").trigger("drop", "1")  # key of the first line made
    await eventually(lambda: element(ui_user, "line-0-description").value == "Colonne vidéo", "the drop did not move")
    ui_user.find(marker="save-quote").click()
    await ui_user.should_see(marker="quote-number", retries=50)
    with unit_of_work() as session:
        lines = session.exec(select(QuoteLine).order_by(col(QuoteLine.position))).all()
    assert [(line.description, line.catalog_item_id, line.vat_rate) for line in lines] == [
        ("Colonne vidéo", item, Decimal("10.00")),
        ("Installation", None, Decimal("20.00")),
    ]


async def test_a_refused_move_shows_why_and_the_current_status(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        quote = make_quote(session, actor_for(email), make_buyer(session))
        quote_id = quote.id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="action-send", retries=50)
    with unit_of_work() as session:  # cancelled in another tab meanwhile
        quotes.cancel_quote(session, actor_for(email), quote_id)
    ui_user.find(marker="action-send").click()
    await ui_user.should_see("Only a draft quote can be sent.")
    await eventually(lambda: _text(ui_user, "quote-status") == _en(gettext, "Cancelled"), "the status is not refreshed")
    await ui_user.should_not_see(marker="action-send")


async def test_accepting_asks_for_the_clients_comment(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        quote_id = make_sent_quote(session, actor_for(email), make_buyer(session)).id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="action-accept", retries=50)
    await ui_user.should_not_see(marker="action-send")
    ui_user.find(marker="action-accept").click()
    await ui_user.should_see(marker="decision-dialog")
    element(ui_user, "client-comment").value = "OK pour le bloc 2"
    ui_user.find(marker="decision-confirm").click()
    await eventually(lambda: _text(ui_user, "quote-status") == _en(gettext, "Accepted"), "the quote is not accepted")
    with unit_of_work() as session:
        quote = session.get(Quote, quote_id)
        assert quote is not None and quote.client_comment == "OK pour le bloc 2"
    await ui_user.should_see(marker="action-order")
    await ui_user.should_see(marker="tab-history")  # the page is built in steps: the header comes first
    ui_user.find(marker="tab-history").click()  # the trail in words: statuses, amounts
    accepted = _en(gettext, "Accepted")
    await eventually(
        lambda: any(row["new"] == accepted for row in table_rows(ui_user, "history-table")),
        "the history does not say the quote was accepted",
    )
    rows = table_rows(ui_user, "history-table")
    assert next(row for row in rows if row["new"] == accepted)["old"] == _en(gettext, "Sent")
    assert {row["new"] for row in rows if row["field"] == _en(gettext, "Status")} >= {
        _en(gettext, "Draft"),
        _en(gettext, "Sent"),
        accepted,
    }
    assert not any(row["new"] in ("draft", "sent", "accepted") for row in rows)


async def test_a_user_cannot_open_another_users_quote_by_url(ui_user: User, account: Callable[..., str]) -> None:
    _english(ui_user)
    owner = actor_for(account(email="olga@example.org", name="Olga Owner"))
    email = account(email="rita@example.org", name="Rita Rep")
    with unit_of_work() as session:
        quote_id = make_quote(session, owner, make_buyer(session), title="Secret deal").id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="not-allowed", retries=50)  # in place of the quote, not a blank page
    await ui_user.should_see(_en(gettext, "You are not allowed to open this page."))
    await ui_user.should_not_see("Secret deal")
    await ui_user.should_not_see(marker="quote-number")
    await ui_user.should_not_see(marker="comment-thread")
    await ui_user.open(f"/quotes/{uuid.uuid4()}")
    await ui_user.should_see(marker="not-found", retries=50)
    await ui_user.should_see(_en(gettext, "This page does not exist."))
    await ui_user.open(f"/quotes/{quote_id}/edit")
    await ui_user.should_see(_en(gettext, "You are not allowed to do this."), retries=50)
    await ui_user.should_not_see(marker="quote-form")
    # Nor its PDF, while the browser gets its own quote's.
    assert (await ui_user.http_client.get(f"/quotes/{quote_id}/pdf")).status_code == 404
    with unit_of_work() as session:
        mine = make_quote(session, actor_for(email), make_buyer(session)).id
    response = await ui_user.http_client.get(f"/quotes/{mine}/pdf?download=1")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response.headers["content-disposition"].startswith("attachment;")


async def test_filters_come_back_from_the_url_with_the_totals_of_the_list(
    ui_user: User, account: Callable[..., str]
) -> None:
    _english(ui_user)
    email = account(Role.ADMIN, email="ada@example.org", name="Ada Admin")
    me = actor_for(email)
    with unit_of_work() as session:
        hospital = make_buyer(session, name="CHU de Nantes")
        small = make_sent_quote(session, me, hospital, [quote_line(unit_price="50.00")], title="Small")
        big = make_sent_quote(session, me, hospital, [quote_line(unit_price="1000.00")], title="Big")
        make_quote(session, me, hospital, [quote_line(unit_price="5000.00")], title="Draft one")
        make_sent_quote(
            session,
            SYSTEM_ACTOR,
            make_buyer(session),
            [quote_line(unit_price="700.00")],
            owner_id=me.id,
            title="Elsewhere",
        )
        hospital_id, big_number = hospital.id, big.number
        assert small.number
    target = quote(f"/quotes?status=sent&institution_id={hospital_id}&amount_min=100", safe="/")
    await log_in(ui_user, email, path=f"/login?redirect_to={target}")
    await eventually(
        lambda: [r["title"] for r in table_rows(ui_user, "quotes-table")] == ["Big"],
        "the URL's filters are not applied",
    )
    assert element(ui_user, "filter-status").value == ["sent"]
    assert element(ui_user, "filter-institution").value == str(hospital_id)
    assert element(ui_user, "filter-amount-min").value == "100"
    assert _text(ui_user, "quote-count") == _en(ngettext, "{count} quote", "{count} quotes", 1, count=1)
    assert _text(ui_user, "sum-incl") == _en(gettext, "Total incl. VAT: {amount}", amount=_money("1200.00"))
    assert table_rows(ui_user, "quotes-table")[0]["number"] == big_number
    element(ui_user, "filter-amount-min").value = ""
    await eventually(
        lambda: sorted(r["title"] for r in table_rows(ui_user, "quotes-table")) == ["Big", "Small"],
        "clearing the amount does not widen the list",
    )
    assert _text(ui_user, "sum-excl") == _en(gettext, "Total excl. VAT: {amount}", amount=_money("1050.00"))


async def test_emailing_a_sent_quote_to_a_contact_queues_it_once_even_on_a_double_click(
    ui_user: User, account: Callable[..., str]
) -> None:
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        clinic = make_buyer(session, name="Clinique du Lac")
        contacts.create_contact(
            session,
            SYSTEM_ACTOR,
            clinic.id,
            {"first_name": "Inès", "last_name": "Garnier", "email": "ines@lac.fr", "is_primary": True},
        )
        contacts.create_contact(session, SYSTEM_ACTOR, clinic.id, {"first_name": "Paul", "last_name": "Sans"})
        quote_id = make_sent_quote(session, actor_for(email), clinic).id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="action-email", retries=50)
    ui_user.find(marker="action-email").click()
    await ui_user.should_see(marker="email-dialog", retries=50)
    recipients = element(ui_user, "email-recipients")
    assert list(recipients.options.values()) == ["Inès Garnier <ines@lac.fr>"]  # only contacts with an email
    assert recipients.value == [next(iter(recipients.options))]
    assert element(ui_user, "email-subject").value  # prefilled from the template
    element(ui_user, "email-subject").value = "Votre devis"
    ui_user.find(marker="email-send").click()
    ui_user.find(marker="email-send").click()
    await ui_user.should_not_see(marker="email-dialog", retries=50)
    with unit_of_work() as session:
        queued = session.exec(select(OutboxMessage)).all()
    assert [(m.to_addresses, m.subject) for m in queued] == [(["Inès Garnier <ines@lac.fr>"], "Votre devis")]


async def test_a_fully_invoiced_quote_lists_its_invoices_and_offers_no_more_invoicing(
    ui_user: User, account: Callable[..., str]
) -> None:
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        quote_id = make_accepted_quote(session, actor_for(email), make_buyer(session)).id
        deposit = invoices.create_invoice_from_quote(session, actor_for(email), quote_id, percent=Decimal("30"))
        deposit_id, deposit_total = deposit.id, deposit.total_incl_vat
        balance_id = invoices.create_invoice_from_quote(session, actor_for(email), quote_id).id
        invoices.issue_invoice(session, actor_for(email), deposit_id)
        deposit_number = session.get(Invoice, deposit_id).number  # type: ignore[union-attr]
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="quote-invoices", retries=50)
    await ui_user.should_see(marker="action-order")  # the actions are shown...
    await ui_user.should_not_see(marker="action-invoice")  # ...but nothing remains to invoice
    links = {str(link.props.get("href")): link.text for link in ui_user.find(kind=ui.link).elements}
    assert links[f"/invoices/{deposit_id}"] == deposit_number
    assert links[f"/invoices/{balance_id}"] == _en(gettext, "Invoice")  # a draft has no number; its badge says Draft
    await ui_user.should_see(_money(str(deposit_total)))


async def test_a_long_draft_is_built_in_chunks_and_saved_whole(
    ui_user: User, account: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_editor, "BUDGET", 0.0)  # two rows at a time, the loop free in between
    ui_user.http_client.headers["Accept-Language"] = "fr"
    email = account()
    with unit_of_work() as session:
        quote_id = make_quote(
            session,
            actor_for(email),
            make_buyer(session),
            lines=[quote_line(f"Ligne {i}", unit_price="10.00") for i in range(30)]
            + [{**quote_line("Réduite"), "vat_rate": "5.5"}],
        ).id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}/edit")
    await ui_user.should_see(marker="line-30-quantity", retries=100)
    with use_locale("fr"):
        assert element(ui_user, "line-30-vat_rate").options["5.5"] == "5,5 %"  # the locale's decimal mark
        expected = format_currency(Decimal("30") * Decimal("12.00") + Decimal("105.50"))
    await eventually(lambda: _text(ui_user, "total-incl") == expected, "the totals are not those of every line")
    element(ui_user, "line-30-quantity").value = "2"
    ui_user.find(marker="save-quote").click()
    await ui_user.should_see(marker="quote-number", retries=50)
    with unit_of_work() as session:
        lines = session.exec(
            select(QuoteLine).where(QuoteLine.quote_id == quote_id).order_by(col(QuoteLine.position))
        ).all()
    assert len(lines) == 31 and lines[30].quantity == Decimal("2")


async def test_the_list_follows_the_quotes_others_save_without_reload(ui_user: User) -> None:
    with unit_of_work() as session:
        team = make_team(session, "Ouest")
        make_user(session, role=Role.MANAGER, email="marc@example.org", name="Marc Manager", team=team)
        rep = actor_of(make_user(session, email="rita@example.org", name="Rita Rep", team=team))
        hospital = make_buyer(session, name="CHU de Nantes")
    await log_in(ui_user, "marc@example.org", path="/login?redirect_to=/quotes")
    await ui_user.should_see(marker="quotes-table", retries=50)
    await eventually(
        lambda: _text(ui_user, "quote-count") == ngettext("{count} quote", "{count} quotes", 0, count=0),
        "the list was not loaded",
    )

    # Another session (a salesperson of the manager's team) saves a quote: it comes, with the totals.
    with unit_of_work() as session:
        quote_id = make_quote(session, rep, hospital, [quote_line(unit_price="100.00")], title="Pompe").id
    await eventually(
        lambda: [r["title"] for r in table_rows(ui_user, "quotes-table")] == ["Pompe"], "the new quote did not appear"
    )
    assert _text(ui_user, "sum-incl") == gettext("Total incl. VAT: {amount}", amount=format_currency(Decimal("120")))

    # Sent, then revised: the list follows the status and the revision, and sums the latest only.
    with unit_of_work() as session:
        quotes.send_quote(session, rep, quote_id)
    await eventually(
        lambda: [r["status_value"] for r in table_rows(ui_user, "quotes-table")] == ["sent"],
        "the status did not follow",
    )
    with unit_of_work() as session:
        quotes.revise_quote(session, rep, quote_id)
    await eventually(
        lambda: sorted(r["status_value"] for r in table_rows(ui_user, "quotes-table")) == ["cancelled", "draft"],
        "the revision did not appear",
    )
    assert _text(ui_user, "quote-count") == ngettext("{count} quote", "{count} quotes", 2, count=2)
    assert _text(ui_user, "sum-incl") == gettext("Total incl. VAT: {amount}", amount=format_currency(Decimal("120")))


async def test_each_action_confirms_refreshes_the_page_and_others_changes_show_live(
    ui_user: User, account: Callable[..., str]
) -> None:
    """The quote page once saved each action silently, kept showing "Envoyé" with every action after
    a cancellation, and logged "the parent element this slot belongs to has been deleted" (the user
    fixture fails on any error log)."""
    email = account()
    with unit_of_work() as session:
        quote_id = make_quote(session, actor_for(email), make_buyer(session)).id
        other_id = make_sent_quote(session, actor_for(email), make_buyer(session, name="CH de Vienne")).id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{other_id}")
    await ui_user.should_see(marker="action-accept", retries=50)
    assert _text(ui_user, "action-accept") == "Accepter" and _text(ui_user, "action-reject") == "Refuser"
    with unit_of_work() as session:  # accepted by a colleague in another tab: this page follows
        quotes.accept_quote(session, SYSTEM_ACTOR, other_id, client_comment=None)
    await eventually(lambda: _text(ui_user, "quote-status") == "Accepté", "another user's change is not shown")
    await ui_user.should_see(marker="action-order")

    await ui_user.open(f"/quotes/{quote_id}")
    await ui_user.should_see(marker="action-send", retries=50)
    ui_user.find(marker="action-send").click()
    await ui_user.should_see("Le devis est marqué comme envoyé.")
    await eventually(lambda: _text(ui_user, "quote-status") == "Envoyé", "the status is not refreshed")
    await ui_user.should_see(marker="action-cancel")
    ui_user.find(marker="action-cancel").click()
    ui_user.find(marker="cancel-confirm").click()
    await ui_user.should_see("Devis annulé.")
    await eventually(lambda: _text(ui_user, "quote-status") == "Annulé", "a cancelled quote is not shown so")
    for action in ("action-send", "action-accept", "action-reject", "action-cancel"):
        await ui_user.should_not_see(marker=action)


async def test_a_comment_being_typed_and_the_history_tab_outlive_another_users_change(
    ui_user: User, account: Callable[..., str]
) -> None:
    """The tabs were drawn again with the quote at each change: the comment being typed was erased and
    the history went back to the comments tab."""
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        quote_id = make_sent_quote(session, actor_for(email), make_buyer(session)).id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="comment-input", retries=50)
    element(ui_user, "comment-input").value = "Le client rappelle lundi"
    with unit_of_work() as session:  # a colleague records the client's answer meanwhile
        quotes.accept_quote(session, SYSTEM_ACTOR, quote_id, client_comment=None)
    await eventually(lambda: _text(ui_user, "quote-status") == _en(gettext, "Accepted"), "the change is not shown")
    await ui_user.should_see(marker="action-order")
    assert element(ui_user, "comment-input").value == "Le client rappelle lundi"

    ui_user.find(marker="tab-history").click()
    with unit_of_work() as session:
        order_number = quotes.record_order(session, SYSTEM_ACTOR, quote_id, purchase_order_ref="BC-77").order_number
    await eventually(
        lambda: any(row["new"] == order_number for row in table_rows(ui_user, "history-table")),
        "the history does not follow the quote",
    )
    assert element(ui_user, "quote-tabs").value == "history"
    assert element(ui_user, "comment-input").value == "Le client rappelle lundi"


async def test_a_refused_decision_keeps_the_dialog_the_clients_comment_and_says_why(
    ui_user: User, account: Callable[..., str]
) -> None:
    _english(ui_user)
    email = account()
    with unit_of_work() as session:
        quote_id = make_sent_quote(session, actor_for(email), make_buyer(session)).id
    await log_in(ui_user, email, path=f"/login?redirect_to=/quotes/{quote_id}")
    await ui_user.should_see(marker="action-accept", retries=50)
    ui_user.find(marker="action-accept").click()
    await ui_user.should_see(marker="decision-dialog")
    element(ui_user, "client-comment").value = "Accord du directeur"
    with unit_of_work() as session:  # cancelled in another tab meanwhile
        quotes.cancel_quote(session, actor_for(email), quote_id)
    await eventually(lambda: _text(ui_user, "quote-status") == _en(gettext, "Cancelled"), "the change is not shown")
    ui_user.find(marker="decision-confirm").click()
    await ui_user.should_see(_en(gettext, "Only a sent quote can be accepted."))
    await ui_user.should_see(marker="decision-dialog")
    assert element(ui_user, "client-comment").value == "Accord du directeur"
    with unit_of_work() as session:
        assert session.get(Quote, quote_id).client_comment is None  # type: ignore[union-attr]
