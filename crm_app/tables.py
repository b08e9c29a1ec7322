"""Every table of every area: importing this module registers them all on `SQLModel.metadata`, which
Alembic (migrations/env.py) and the schema tests read. Nothing else imports it."""

from crm_app.accounts import models as accounts_models
from crm_app.activities import models as activities_models
from crm_app.analytics import models as analytics_models
from crm_app.institutions import models as institutions_models
from crm_app.integrations import models as integrations_models
from crm_app.integrations import webhook_models
from crm_app.platform.models import audit, comments, jobs, notifications, outbox, people, rate_limits, settings
from crm_app.sales.models import invoices, opportunities, quotes

MODEL_MODULES = (
    people,
    settings,
    audit,
    notifications,
    comments,
    outbox,
    jobs,
    rate_limits,
    accounts_models,
    institutions_models,
    activities_models,
    quotes,
    invoices,
    opportunities,
    analytics_models,
    integrations_models,
    webhook_models,
)
