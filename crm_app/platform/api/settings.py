"""/api/settings: read and change the settings of /admin/settings (the system sections for super
administrators, "settings.system"; documents, branding, templates and reminders for administrators
too, "document_template.edit"), send a test email; and `module_enabled`, the dependency that makes the
routes of a module switched off answer 404. The logo is uploaded on the settings page only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from crm_app.platform import settings as app_settings
from crm_app.platform import smtp
from crm_app.platform.api.deps import ActorDep, ClientDep, SessionDep
from crm_app.platform.api.routes import area_router
from crm_app.platform.errors import NotFound
from crm_app.platform.i18n import N_
from crm_app.platform.settings import SectionView

router = area_router(tags=["settings"])


def module_enabled(request: Request) -> None:
    """Router dependency: 404 for the paths of a module switched off in /admin/settings (before any
    other work; FastAPI runs this sync function in its thread pool, the cache makes it cheap)."""
    module = app_settings.module_of_path(request.url.path)
    if module is not None and not app_settings.is_module_enabled(module):
        raise NotFound(N_("No such API endpoint."))


class SectionOut(BaseModel):
    name: str
    values: dict[str, Any] = Field(description='Effective values; an SMTP password only as "set"/"not set"')
    version: int = Field(description="Send it back with a change; 0 while the section was never saved")
    updated_at: datetime | None
    updated_by_name: str | None
    environment: dict[str, Any] = Field(default_factory=dict, description="email: the environment's values")
    overridden: list[str] = Field(default_factory=list, description="email: fields overridden here")


class SettingsOut(BaseModel):
    sections: dict[str, SectionOut]


class SectionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section: str = Field(
        description="organisation, email, modules, sessions, retention (super administrators); "
        "documents, branding, templates, reminders (administrators too)"
    )
    values: dict[str, Any] = Field(description="Fields to change; in `email`, null puts the environment's value back")
    version: int | None = Field(default=None, description="The version read; a stale one answers 409")


class TestEmailIn(BaseModel):
    to: str = Field(max_length=320)


class TestEmailOut(BaseModel):
    ok: bool
    answer: str = Field(description="The SMTP server's reply, or the error it (or the network) gave")


def _section(view: SectionView) -> SectionOut:
    return SectionOut(
        name=view.name,
        values=view.values,
        version=view.version,
        updated_at=view.updated_at,
        updated_by_name=view.updated_by_name,
        environment=view.environment,
        overridden=list(view.overridden),
    )


@router.get("/settings", response_model=SettingsOut)
def get_settings(session: SessionDep, actor: ActorDep) -> SettingsOut:
    view = app_settings.get_settings_view(session, actor)
    return SettingsOut(sections={name: _section(section) for name, section in view.sections.items()})


@router.patch("/settings", response_model=SectionOut, description="Change some values of one section.")
def update_settings(body: SectionChange, session: SessionDep, actor: ActorDep, client: ClientDep) -> SectionOut:
    return _section(
        app_settings.update_section(
            session, actor, body.section, body.values, expected_version=body.version, client=client
        )
    )


@router.post(
    "/settings/test-email",
    response_model=TestEmailOut,
    description="Send a test message now with the effective SMTP settings; answers what the server said.",
)
def send_test_email(body: TestEmailIn, session: SessionDep, actor: ActorDep) -> TestEmailOut:
    result = smtp.send_test_email(session, actor, body.to)
    return TestEmailOut(ok=result.ok, answer=result.answer)
