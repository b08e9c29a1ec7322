"""One module per screen, grouped by area; importing this package registers every route."""

from pages import dashboard
from pages.account import links, login, notifications, profile
from pages.activities import calls, meetings, notes, tasks
from pages.admin import plugins, security_log, settings, teams, users, webhooks
from pages.institutions import activity_tab, contacts, detail, form, import_wizard, sales_tabs
from pages.institutions import list as institution_list
from pages.sales import (
    catalog,
    invoice_detail,
    invoices,
    opportunities,
    opportunity_detail,
    quote_detail,
    quote_editor,
    quotes,
)

__all__ = [
    "activity_tab",
    "calls",
    "catalog",
    "contacts",
    "dashboard",
    "detail",
    "form",
    "import_wizard",
    "institution_list",
    "invoice_detail",
    "invoices",
    "links",
    "login",
    "meetings",
    "notes",
    "notifications",
    "opportunities",
    "opportunity_detail",
    "plugins",
    "profile",
    "quote_detail",
    "quote_editor",
    "quotes",
    "sales_tabs",
    "security_log",
    "settings",
    "tasks",
    "teams",
    "users",
    "webhooks",
]
