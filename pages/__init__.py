"""One module per screen; importing this package registers every route."""

from . import (
    contacts,
    dashboard,
    institution_detail,
    institution_form,
    institution_import,
    institutions,
    login,
    notifications,
    profile,
)

__all__ = ["contacts", "dashboard", "institution_detail", "institution_form", "institution_import", "institutions",
           "login", "notifications", "profile"]
