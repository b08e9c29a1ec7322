"""In Chromium, measured: the lists show their amounts on a 1440 px screen without scrolling sideways,
the quote and invoice pages and the quote editor fit a 390 px phone, long labels wrap instead of being
cut, and a note's markdown is rendered in the list while nothing typed in it runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from crm_app.activities import notes
from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from crm_app.sales import invoices
from tests.factories import PASSWORD, actor_of, make_user
from tests.institution_factories import make_institution
from tests.sales_factories import make_catalog_item, make_quote, quote_line

pytestmark = pytest.mark.e2e

EMAIL = "sophie.martin@example.org"
LONG_NAME = "Centre hospitalier universitaire de Saint-Étienne, site de Bellevue"
LONG_LABEL = "Salles d'opération : colonne de vidéo-endoscopie 4K avec insufflateur et lumière froide"
LONG_CATEGORY = "Salles d'opération et blocs chirurgicaux"


@dataclass(frozen=True)
class Data:
    quote_id: uuid.UUID
    invoice_id: uuid.UUID


@pytest.fixture
def data(clean_after: None) -> Data:
    with unit_of_work() as session:
        actor = actor_of(make_user(session, role=Role.ADMIN, email=EMAIL, name="Sophie Martin"))
        clinic = make_institution(session, actor, name=LONG_NAME)
        item = make_catalog_item(
            session, reference="END-4K-2000", name=LONG_LABEL, unit_price="148500.00", category=LONG_CATEGORY
        )
        lines = [
            quote_line(LONG_LABEL, quantity="2", unit_price="148500.00", catalog_item_id=str(item.id), unit="unit"),
            quote_line(
                "Gants stériles (boîte de 100)",
                quantity="250",
                unit_price="12.40",
                discount_value="5",
                discount_type="percent",
            ),
        ]
        quote = make_quote(session, actor, clinic, lines=lines, title="Rééquipement complet du bloc opératoire")
        invoice = invoices.create_invoice(
            session, actor, {"institution_id": clinic.id, "title": "Bloc", "lines": lines}
        )
        body = (
            "**Visite du bloc** avec le Dr Martin\n- 4 salles à rééquiper\n- budget voté en *mars*\n- relancer\n"
            '- devis\n<img src=x onerror="window.__pwned = 1"> [lien](javascript:window.__pwned=2)'
        )
        notes.create_note(session, actor, {"body": body, "institution_id": clinic.id})
        return Data(quote.id, invoice.id)


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _signed_in(browser: Browser, server_url: str, language: str, width: int) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        viewport={"width": width, "height": 900},
        locale="fr-FR" if language == "fr" else "en-US",
        timezone_id="Europe/Paris",
    )
    page = context.new_page()
    try:
        page.goto(f"{server_url}/login")
        page.locator("input[type=email], input").first.fill(EMAIL)
        page.locator("input[type=password]").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page).not_to_have_url(re.compile("/login"))
        yield page
    finally:
        context.close()


@pytest.fixture
def wide(browser: Browser, server_url: str, language: str, data: Data) -> Iterator[Page]:
    yield from _signed_in(browser, server_url, language, 1440)


@pytest.fixture
def phone(browser: Browser, server_url: str, language: str, data: Data) -> Iterator[Page]:
    yield from _signed_in(browser, server_url, language, 390)


def _page_width(page: Page) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def _money_headers_in_view(page: Page, path: str) -> None:
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + path)
    table = page.locator(".opex-table").first
    expect(table.locator("tbody tr").first).to_be_visible()
    money = table.locator("th.opex-money")
    assert money.count() >= 1, f"{path}: no amount column"
    for index in range(money.count()):
        box = money.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1440, f"{path}: an amount is cut"
    scroll = table.locator(".q-table__middle").evaluate("e => e.scrollWidth - e.clientWidth")
    assert scroll <= 1, f"{path}: the table scrolls sideways by {scroll} px"


def test_the_lists_show_their_amounts_at_1440_px_without_scrolling_sideways(wide: Page, data: Data) -> None:
    for path in ("/quotes", "/invoices", "/catalog"):
        _money_headers_in_view(wide, path)
    wide.goto(wide.url.rsplit("/", 1)[0] + "/institutions")
    middle = wide.locator(".opex-table .q-table__middle").first
    expect(wide.locator(".opex-table tbody tr").first).to_be_visible()
    assert middle.evaluate("e => e.scrollWidth - e.clientWidth") <= 1
    assert _page_width(wide) <= 1440


def test_the_first_column_stays_in_place_when_a_list_scrolls_sideways(phone: Page, data: Data) -> None:
    phone.goto(phone.url.rsplit("/", 1)[0] + "/quotes")
    first = phone.locator(".opex-table tbody tr td").first
    expect(first).to_be_visible()
    middle = phone.locator(".opex-table .q-table__middle").first
    assert middle.evaluate("e => e.scrollWidth > e.clientWidth"), "the list does not scroll sideways on a phone"
    # Measured, scrolled and measured again in one go: a redraw of the table in between (the user's
    # columns arriving) cannot move things between the two measures.
    before, scrolled, after = middle.evaluate(
        """e => { const td = e.querySelector('tbody tr td');
                  const before = td.getBoundingClientRect().left;
                  e.scrollLeft = 400;
                  return [before, e.scrollLeft, td.getBoundingClientRect().left]; }"""
    )
    assert scrolled > 0
    assert abs(after - before) < 1, "the first column went with the scroll"
    assert _page_width(phone) <= 390


def _fits_the_phone(page: Page, what: str) -> None:
    width = _page_width(page)
    assert width <= 390, f"{what}: the page is {width} px wide on a 390 px phone"


def test_the_quote_and_invoice_pages_and_the_quote_editor_fit_a_phone(phone: Page, data: Data) -> None:
    base = phone.url.rsplit("/", 1)[0]
    phone.goto(f"{base}/quotes/{data.quote_id}")
    lines = phone.locator(".opex-lines tbody td")
    expect(lines.first).to_be_visible()
    _fits_the_phone(phone, "the quote page")
    # Every value of every line in view (the empty ones are left out): nothing cut, nothing to scroll.
    outside = phone.evaluate(
        """() => [...document.querySelectorAll('.opex-lines tbody td')]
            .filter(td => td.offsetParent !== null)
            .map(td => td.getBoundingClientRect())
            .filter(r => r.left < 0 || r.right > 390).length"""
    )
    assert outside == 0, f"{outside} values of the lines are not in view"
    expect(phone.get_by_text(LONG_LABEL, exact=True)).to_be_visible()  # the whole label, wrapped

    phone.goto(f"{base}/invoices/{data.invoice_id}")
    expect(phone.locator(".opex-lines tbody td").first).to_be_visible()
    _fits_the_phone(phone, "the invoice page")

    phone.goto(f"{base}/quotes/{data.quote_id}/edit")
    description = phone.locator("textarea").first
    expect(description).to_be_visible()
    _fits_the_phone(phone, "the quote editor")
    box = description.bounding_box()
    assert box is not None and box["width"] >= 200, "the line's description is squeezed"

    phone.goto(f"{base}/invoices/{data.invoice_id}/edit")
    expect(phone.locator("textarea").first).to_be_visible()
    _fits_the_phone(phone, "the invoice editor")


def test_a_long_choice_in_a_select_wraps_instead_of_ending_in_an_ellipsis(wide: Page, data: Data) -> None:
    wide.goto(wide.url.rsplit("/", 1)[0] + "/catalog")
    expect(wide.locator(".opex-table tbody tr").first).to_be_visible()
    wide.get_by_label(re.compile("^(Catégorie|Category)$")).click()
    wide.get_by_role("option", name=LONG_CATEGORY).click()
    chosen = wide.locator(".q-select .q-field__native > span", has_text=LONG_CATEGORY)
    expect(chosen).to_be_visible()
    assert chosen.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the chosen category is cut"


def _shown_whole(page: Page, select: Locator, label: str, what: str) -> None:
    """`label` is what the select shows, whole: as its text (not in its search input, which cannot wrap),
    nothing of it clipped or scrolled out of view."""
    shown = select.locator(".q-field__native").first
    expect(shown).to_contain_text(label)
    clipped = shown.evaluate(
        """e => { const box = e.getBoundingClientRect();
                  const text = [...e.children].filter(c => c.tagName === 'SPAN').flatMap(c => [...c.getClientRects()]);
                  return e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1
                      || text.some(r => r.left < box.left - 1 || r.right > box.right + 1); }"""
    )
    assert not clipped, f"{what}: the chosen label is cut"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"]  # type: ignore[index]


def _chosen_labels_are_shown_whole(page: Page, data: Data) -> None:
    page.goto(page.url.rsplit("/", 1)[0] + f"/quotes/{data.quote_id}/edit")
    item = page.locator(".opex-line-catalog").first
    expect(item).to_be_visible()
    _shown_whole(page, item, f"END-4K-2000 · {LONG_LABEL}", "the catalog item")
    institution = page.locator(
        ".q-select", has=page.get_by_role("combobox", name=re.compile("^(Établissement|Institution)"))
    )
    _shown_whole(page, institution, LONG_NAME, "the institution")
    # Typing still searches, and the item chosen from the list is shown whole in turn.
    item.locator("input").click()
    item.locator("input").press_sequentially("END-4K", delay=20)
    page.get_by_role("option", name=re.compile("END-4K-2000")).click()
    _shown_whole(page, item, f"END-4K-2000 · {LONG_LABEL}", "the catalog item chosen again")


def test_a_long_chosen_catalog_item_or_institution_is_shown_whole_on_a_phone(phone: Page, data: Data) -> None:
    _chosen_labels_are_shown_whole(phone, data)


def test_a_long_chosen_catalog_item_or_institution_is_shown_whole_at_1440_px(wide: Page, data: Data) -> None:
    _chosen_labels_are_shown_whole(wide, data)


def test_the_notes_list_renders_markdown_and_nothing_typed_in_a_note_runs(wide: Page, data: Data) -> None:
    wide.goto(wide.url.rsplit("/", 1)[0] + "/notes")
    note = wide.locator(".opex-note").first
    expect(note.locator("strong", has_text="Visite du bloc")).to_be_visible()
    expect(note.locator("li").first).to_be_visible()
    assert "**" not in note.inner_text()
    assert "opex-clamp" in (note.get_attribute("class") or "")  # a few lines in the list...
    wide.locator(".opex-table tbody tr").first.get_by_role("button").click()  # ...and the whole, asked for
    expect(note).not_to_have_class(re.compile("opex-clamp"))
    note.get_by_text("lien").click()
    wide.wait_for_timeout(200)
    assert wide.evaluate("() => window.__pwned") is None
    assert note.locator("img[onerror], a[href^='javascript']").count() == 0


def test_a_column_picked_in_the_chooser_is_shown_and_still_there_on_the_next_visit(wide: Page, data: Data) -> None:
    wide.goto(wide.url.rsplit("/", 1)[0] + "/quotes")
    header = wide.locator(".opex-table th", has_text=re.compile("Valable jusqu'au|Valid until"))
    expect(wide.locator(".opex-table tbody tr").first).to_be_visible()
    expect(header).to_have_count(0)  # not among the columns a 1440 px screen starts with
    wide.get_by_role("combobox", name=re.compile("^(Colonnes|Columns)$")).click()
    wide.get_by_role("option", name=re.compile("^(Valable jusqu'au|Valid until)$")).click()
    expect(header).to_be_visible()
    wide.keyboard.press("Escape")
    wide.wait_for_timeout(500)  # the choice is saved in a worker thread
    wide.reload()
    expect(wide.locator(".opex-table tbody tr").first).to_be_visible()
    expect(header).to_be_visible()


def test_a_table_update_keeps_its_slot_cells(wide: Page, data: Data) -> None:
    """Selecting a row redraws the table: the name cells, drawn from a slot template, are updated in place
    rather than built again (components/opex.js)."""
    wide.goto(wide.url.rsplit("/", 1)[0] + "/institutions")
    link = wide.locator(".opex-table tbody tr").first.get_by_role("link", name=LONG_NAME)
    link.evaluate("a => { a.dataset.seen = 'before the update'; }")
    wide.locator(".opex-table tbody tr").first.locator(".q-checkbox").click()
    expect(wide.get_by_text(re.compile(r"^1 (selected|sélectionné)$"))).to_be_visible()  # the server answered
    expect(link).to_have_attribute("data-seen", "before the update")
