"""Records of other areas that point at an institution and one of its contacts (activities, quotes,
invoices, opportunities): the checks that both exist and agree; and an activity's link to an opportunity of that
institution (the sales area declares the opportunities: `records.register_linkable`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from crm_app.institutions.models import Contact, Institution
from crm_app.platform import records
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_
from crm_app.platform.permissions import Actor, authorize

OPPORTUNITY = "opportunity"


def check_links(session: Session, values: dict[str, Any], *, current_institution: uuid.UUID | None = None) -> None:
    """The institution and contact exist and agree; a contact alone brings its institution.
    Mutates `values` (fills `institution_id`); raises ValidationFailed naming the field."""
    errors: dict[str, str] = {}
    institution_id = values.get("institution_id", current_institution)
    if values.get("institution_id") is not None and session.get(Institution, values["institution_id"]) is None:
        errors["institution_id"] = N_("This institution does not exist.")
    if values.get("contact_id") is not None:
        contact = session.get(Contact, values["contact_id"])
        if contact is None:
            errors["contact_id"] = N_("This contact does not exist.")
        elif institution_id is None:
            values["institution_id"] = contact.institution_id
        elif contact.institution_id != institution_id:
            errors["contact_id"] = N_("This contact belongs to another institution.")
    if errors:
        raise ValidationFailed(errors)


def check_contact(session: Session, institution_id: uuid.UUID, contact_id: uuid.UUID | None) -> None:
    """The contact, when given, exists and is one of the institution's."""
    if contact_id is None:
        return
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ValidationFailed({"contact_id": N_("This contact does not exist.")})
    if contact.institution_id != institution_id:
        raise ValidationFailed({"contact_id": N_("This contact belongs to another institution.")})


def required_institution(
    session: Session, actor: Actor, institution_id: uuid.UUID | None, contact_id: uuid.UUID | None
) -> Institution:
    """A sales record's institution (required, one the actor may see) and its contact (one of the
    institution's, when given)."""
    institution = session.get(Institution, institution_id) if institution_id is not None else None
    if institution is None:
        message = N_("This field is required.") if institution_id is None else N_("This institution does not exist.")
        raise ValidationFailed({"institution_id": message})
    authorize(actor, "institution.view", institution)
    check_contact(session, institution.id, contact_id)
    return institution


def check_opportunity(
    session: Session,
    actor: Actor,
    values: dict[str, Any],
    *,
    current_institution: uuid.UUID | None = None,
    current_opportunity: uuid.UUID | None = None,
) -> None:
    """An activity's opportunity (`values["opportunity_id"]`): one the actor sees, of the activity's
    institution; an opportunity alone brings its institution. When the institution changes and no
    opportunity is given, the current one is dropped (it was the previous institution's). Mutates
    `values`; raises ValidationFailed naming the field."""
    institution_changed = "institution_id" in values and values["institution_id"] != current_institution
    if institution_changed and "opportunity_id" not in values and current_opportunity is not None:
        values["opportunity_id"] = None
    opportunity_id = values.get("opportunity_id")
    if opportunity_id is None:
        return
    institution_id = values.get("institution_id", current_institution)
    linked = records.check_link(
        session,
        actor,
        OPPORTUNITY,
        opportunity_id,
        institution_id=institution_id,
        field="opportunity_id",
        missing=N_("This opportunity does not exist."),
        elsewhere=N_("This opportunity belongs to another institution."),
    )
    if institution_id is None:
        values["institution_id"] = linked
