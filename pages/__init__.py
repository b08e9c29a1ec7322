"""One module per screen; importing this package registers every route."""

from . import (
    calls,
    contacts,
    dashboard,
    institution_activity,
    institution_detail,
    institution_form,
    institution_import,
    institutions,
    login,
    meetings,
    notes,
    notifications,
    profile,
    tasks,
)

__all__ = ["calls", "contacts", "dashboard", "institution_activity", "institution_detail", "institution_form",
           "institution_import", "institutions", "login", "meetings", "notes", "notifications", "profile", "tasks"]
