"""One concept, one definition: the tables that the other places read are complete and are read."""

from __future__ import annotations

from crm_app.sales import document_settings
from crm_app.sales.models.quotes import QuoteReminderKind
from crm_app.sales.reminder_kinds import QUOTE_REMINDER_SPECS, QUOTE_REMINDERS


def test_every_quote_reminder_kind_is_one_row_in_due_order() -> None:
    assert [spec.kind for spec in QUOTE_REMINDERS] == list(QuoteReminderKind)
    assert len(QUOTE_REMINDER_SPECS) == len(QUOTE_REMINDERS)
    assert [spec.offset for spec in QUOTE_REMINDERS] == sorted(spec.offset for spec in QUOTE_REMINDERS)


def test_reminder_settings_offer_the_kinds_of_the_table() -> None:
    codes = [kind.value for kind in QuoteReminderKind]
    assert list(document_settings.QUOTE_REMINDER_KINDS) == codes
    assert document_settings.REMINDER_DEFAULTS["quote_reminders"] == codes == ["j-7", "j-3", "j0", "j+7"]


# --------------------------------------------------------------------------------------------
# Institution fields (crm_app/institutions/fields.py)


def test_every_institution_field_is_declared_once_and_read_everywhere() -> None:
    from crm_app.institutions import imports, service
    from crm_app.institutions.api.institutions import InstitutionIn, InstitutionOut
    from crm_app.institutions.fields import EDITABLE, EXPORTED, FIELD_SPECS, FIELDS, Part, Shown
    from crm_app.institutions.models import Institution, MedicalProfile
    from crm_app.institutions.timeline import FIELD_LABELS, HISTORY_WORDING

    assert len(FIELD_SPECS) == len(FIELDS)
    for spec in FIELDS:
        stored_in = MedicalProfile if spec.part is Part.PROFILE else Institution
        assert spec.part is Part.LABELS or spec.name in stored_in.model_fields, spec.name
        assert spec.name in InstitutionOut.model_fields
        assert FIELD_LABELS[spec.name] == spec.label
        if spec.shown is Shown.CODE:
            assert HISTORY_WORDING["institution"].codes[spec.name] is spec.codes
        if spec.import_aliases is not None:
            assert imports.HEADER_ALIASES[spec.name] == spec.import_aliases
            assert imports.TARGETS[spec.name] == (spec.import_label or spec.label)
    assert list(InstitutionIn.model_fields) == [spec.name for spec in EDITABLE]
    assert list(service.CLEANERS) == [spec.name for spec in EDITABLE]
    assert set(service.INSTITUTION_FIELDS) | set(service.PROFILE_FIELDS) | set(service.LABEL_FIELDS) == {
        spec.name for spec in EDITABLE
    }
    assert HISTORY_WORDING["institution"].dates == {spec.name for spec in FIELDS if spec.shown is Shown.DATE}
    assert [spec.name for spec in EXPORTED] == [
        "name",
        "type",
        "finess",
        "siret",
        "accounting_number",
        "postal_code",
        "city",
        "region",
        "commercial_status",
        "assigned_user_id",
        "team_id",
        "is_public_entity",
        "bed_capacity",
        "surgical_rooms",
        "tags",
        "is_archived",
    ]


def test_the_list_row_holds_every_exported_field_and_the_api_item_publishes_the_row() -> None:
    import dataclasses

    from crm_app.institutions.api.institutions import InstitutionItem
    from crm_app.institutions.fields import EXPORTED
    from crm_app.institutions.service import InstitutionRow

    row_fields = [f.name for f in dataclasses.fields(InstitutionRow)]
    assert {spec.name_field or spec.name for spec in EXPORTED} <= set(row_fields)
    assert list(InstitutionItem.model_fields) == [name for name in row_fields if name not in ("created_by", "can_edit")]


def test_the_api_models_built_from_the_specs_keep_their_schema() -> None:
    from crm_app.institutions.api.institutions import InstitutionIn, InstitutionOut, InstitutionPatch

    schema_in, schema_out = InstitutionIn.model_json_schema(), InstitutionOut.model_json_schema()
    assert schema_out["properties"]["payment_terms_days"]["description"].startswith("Days from issue")
    assert "name" in schema_out["required"] and "tags" in schema_out["required"]
    assert schema_out["properties"]["type"]["type"] == "string"  # codes are plain strings in the API
    assert schema_in["required"] == ["name"] and schema_in["additionalProperties"] is False  # what creating needs
    assert InstitutionPatch.model_json_schema()["required"] == ["version"]


def test_the_contact_answer_publishes_the_service_row() -> None:
    import dataclasses

    from crm_app.institutions.api.institutions import ContactOut
    from crm_app.institutions.contacts import ContactRow

    published = [
        f.name
        for f in dataclasses.fields(ContactRow)
        if f.name not in ("assigned_user_id", "team_id", "created_by", "can_edit")
    ]
    assert list(ContactOut.model_fields) == published
