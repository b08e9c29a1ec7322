"""The catalog: admins edit, everyone reads the active items; validation, unique references,
optimistic concurrency, lists filtered and sorted in SQL, audit trail, and the REST routes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, col, select

from crm_app.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from crm_app.platform.models.audit import AuditEntry
from crm_app.platform.models.people import Role
from crm_app.platform.paging import PageRequest
from crm_app.platform.permissions import Actor
from crm_app.sales import catalog
from crm_app.sales.catalog import CatalogQuery
from tests.factories import actor_of, make_user
from tests.sales_factories import make_catalog_item


@pytest.fixture
def admin(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.ADMIN, name="Ada Admin"))


@pytest.fixture
def rep(db: Session) -> Actor:
    return actor_of(make_user(db, role=Role.USER, name="Rita Rep"))


def test_an_admin_creates_an_item_with_decimal_price_and_default_vat(db: Session, admin: Actor) -> None:
    item = catalog.create_item(
        db,
        admin,
        {
            "reference": " END-001 ",
            "name": "  Colonne   d'endoscopie ",
            "unit_price": "12 500,50",
            "unit": "unit",
            "category": "Endoscopie",
        },
    )
    assert (item.reference, item.name, item.unit_price, item.default_vat_rate) == (
        "END-001",
        "Colonne d'endoscopie",
        Decimal("12500.50"),
        Decimal("20"),
    )
    assert isinstance(item.unit_price, Decimal) and item.is_active and item.version == 1
    assert item.name_key == "colonne d'endoscopie"
    assert item.created_by == admin.id


def test_every_field_error_is_reported_at_once(db: Session, admin: Actor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        catalog.create_item(
            db, admin, {"reference": "", "name": " ", "unit_price": "-3", "unit": "litre", "default_vat_rate": "19.6"}
        )
    assert refused.value.field_errors == {
        "reference": "This field is required.",
        "name": "This field is required.",
        "unit_price": "A price is zero or more.",
        "unit": "Unknown value.",
        "default_vat_rate": "Choose one of the VAT rates.",
    }


def test_a_missing_price_is_required_and_a_text_price_is_refused(db: Session, admin: Actor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        catalog.create_item(db, admin, {"reference": "A", "name": "A"})
    assert refused.value.field_errors == {"unit_price": "This field is required."}
    with pytest.raises(ValidationFailed) as refused:
        catalog.create_item(db, admin, {"reference": "A", "name": "A", "unit_price": "cheap"})
    assert refused.value.field_errors == {"unit_price": "Enter an amount."}


def test_vat_rates_come_from_the_document_settings(db: Session, admin: Actor) -> None:
    item = catalog.create_item(
        db, admin, {"reference": "MED-1", "name": "Médicament", "unit_price": "9.90", "default_vat_rate": "5.50"}
    )
    assert item.default_vat_rate == Decimal("5.5")
    assert catalog.vat_rates(db, admin) == tuple(Decimal(r) for r in ("20", "10", "5.5", "2.1", "0"))


def test_a_reference_is_unique_whatever_its_case(db: Session, admin: Actor) -> None:
    make_catalog_item(db, admin, reference="KIT-9")
    with pytest.raises(ValidationFailed) as refused:
        make_catalog_item(db, admin, reference="kit-9")
    assert refused.value.field_errors == {"reference": "This reference is already used by another item."}
    other = make_catalog_item(db, admin, reference="KIT-10")
    with pytest.raises(ValidationFailed):
        catalog.update_item(db, admin, other.id, {"reference": "KIT-9"}, expected_version=other.version)


def test_only_admins_edit_the_catalog(db: Session, admin: Actor, rep: Actor) -> None:
    item = make_catalog_item(db, admin)
    with pytest.raises(Forbidden):
        make_catalog_item(db, rep)
    with pytest.raises(Forbidden):
        catalog.update_item(db, rep, item.id, {"name": "Mine"}, expected_version=1)
    with pytest.raises(Forbidden):
        catalog.deactivate_item(db, rep, item.id, expected_version=1)


def test_a_stale_version_is_refused_with_the_name_of_who_saved(db: Session, admin: Actor) -> None:
    item = make_catalog_item(db, admin, name="Pince")
    catalog.update_item(db, admin, item.id, {"unit_price": "15"}, expected_version=1)
    with pytest.raises(Conflict) as refused:
        catalog.update_item(db, admin, item.id, {"name": "Pince à biopsie"}, expected_version=1)
    assert refused.value.changed_by == "Ada Admin"


def test_users_see_active_items_only_and_admins_choose(db: Session, admin: Actor, rep: Actor) -> None:
    kept = make_catalog_item(db, admin, name="Active scope")
    gone = make_catalog_item(db, admin, name="Old scope")
    catalog.deactivate_item(db, admin, gone.id, expected_version=gone.version)
    everything = CatalogQuery(active=None)
    assert [r.id for r in catalog.list_items(db, rep, everything).items] == [kept.id]
    assert {r.id for r in catalog.list_items(db, admin, everything).items} == {kept.id, gone.id}
    assert [r.id for r in catalog.list_items(db, admin, CatalogQuery(active=False)).items] == [gone.id]
    assert catalog.get_item(db, admin, gone.id).is_active is False
    with pytest.raises(NotFound):
        catalog.get_item(db, rep, gone.id)
    assert [r.id for r in catalog.search_active(db, rep, "scope")] == [kept.id]


def test_the_list_filters_sorts_and_pages_in_sql(db: Session, admin: Actor) -> None:
    make_catalog_item(db, admin, reference="END-1", name="Écouvillon", category="Consommables", unit_price="2")
    make_catalog_item(db, admin, reference="END-2", name="Endoscope", category="Endoscopie", unit_price="9000")
    make_catalog_item(db, admin, reference="SRV-1", name="Formation", category="Services", unit="day", unit_price="800")
    names = lambda query, request=None: [r.name for r in catalog.list_items(db, admin, query, request).items]  # noqa: E731
    assert names(CatalogQuery()) == ["Écouvillon", "Endoscope", "Formation"]  # accents folded
    assert names(CatalogQuery(q="doscope")) == ["Endoscope"]
    assert names(CatalogQuery(q="end-")) == ["Écouvillon", "Endoscope"]  # the reference matches too
    assert names(CatalogQuery(q="ecou")) == ["Écouvillon"]
    assert names(CatalogQuery(category="Services")) == ["Formation"]
    assert names(CatalogQuery(sort="unit_price", descending=True)) == ["Endoscope", "Formation", "Écouvillon"]
    page = catalog.list_items(db, admin, CatalogQuery(), PageRequest(2, 2))
    assert (page.total, [r.name for r in page.items]) == (3, ["Formation"])
    assert catalog.categories(db, admin) == ["Consommables", "Endoscopie", "Services"]


def test_query_parameters_are_read_leniently() -> None:
    query = CatalogQuery.from_params(
        {"q": ["scope"], "active": ["all"], "sort": ["-unit_price"], "category": ["Endoscopie"]}
    )
    assert query == CatalogQuery(q="scope", category="Endoscopie", active=None, sort="unit_price", descending=True)
    assert CatalogQuery.from_params({"sort": ["price; drop"], "active": ["maybe"]}) == CatalogQuery()


def test_every_change_is_in_the_audit_trail(db: Session, admin: Actor) -> None:
    item = make_catalog_item(db, admin, unit_price="10")
    catalog.update_item(db, admin, item.id, {"unit_price": "12.5", "name": item.name}, expected_version=1)
    catalog.deactivate_item(db, admin, item.id, expected_version=2)
    entries = db.exec(
        select(AuditEntry).where(AuditEntry.entity_id == item.id).order_by(col(AuditEntry.at), col(AuditEntry.field))
    ).all()
    updates = [(e.action, e.field, e.old_value, e.new_value) for e in entries if e.action != "create"]
    assert updates == [("update", "unit_price", "10.00", "12.50"), ("archive", "is_active", "True", "False")]
    assert {e.actor_name for e in entries} == {"Ada Admin"}
