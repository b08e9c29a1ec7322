"""Records of other areas that point at an institution and one of its contacts (activities, quotes,
invoices): the check that both exist and agree."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from crm_app.institutions.models import Contact, Institution
from crm_app.platform.errors import ValidationFailed
from crm_app.platform.i18n import N_


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
