"""/profile: the signed-in user's own name, phone, language, theme and time zone; their email address;
their password; their sessions; their personal API tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import app, ui

from components import api_tokens as token_widgets
from components.avatar import avatar
from components.backend import call, client_info
from components.moments import ZONE_KEY
from components.shell import LOCALE_KEY, app_page
from crm_app.accounts import administration as accounts
from crm_app.accounts import auth, passwords, users
from crm_app.accounts.auth import SessionRow
from crm_app.accounts.models import SessionKind
from crm_app.integrations import api_tokens
from crm_app.integrations.api_tokens import TokenRow
from crm_app.platform.i18n import LANGUAGE_NAMES, N_, current_locale, format_datetime
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.people import Theme


@app_page("/profile", title=N_("Profile"), icon="person")
async def profile_page() -> None:
    profile = await call(users.get_profile)
    if profile is None:
        return
    version = profile.version
    # The language the select shows (the account may have none stored yet): only a change of it reloads.
    shown_language = profile.language or current_locale()
    themes = {Theme.AUTO.value: _("Like the system"), Theme.LIGHT.value: _("Light"), Theme.DARK.value: _("Dark")}

    async def save() -> None:
        nonlocal version
        updated = await call(
            users.update_preferences,
            full_name=name.value or "",
            language=language.value,
            theme=Theme(theme.value),
            phone=phone.value or "",
            timezone=zone.value or "",
            expected_version=version,
            fields={"full_name": name, "phone": phone, "timezone": zone, "language": language},
        )
        if updated is None:
            return
        version += 1
        app.storage.client[ZONE_KEY] = zone.value
        changed_language = language.value != shown_language
        app.storage.user[LOCALE_KEY] = language.value
        ui.notify(_("Your profile was saved."), type="positive")
        if changed_language or theme.value != profile.theme.value:
            ui.navigate.reload()

    with ui.card().classes("w-full max-w-xl"):
        with ui.row().classes("items-center gap-3"):
            avatar(profile.full_name, profile.id, size="56px").mark("profile-avatar")
            ui.label(_("Profile")).classes("text-h6")
        with ui.grid(columns=2).classes("gap-x-8 gap-y-1 q-mb-md"):
            ui.label(_("Email")).classes("text-grey-7")
            ui.label(profile.email)
            ui.label(_("Role")).classes("text-grey-7")
            ui.label(_(profile.role_label))
            ui.label(_("Team")).classes("text-grey-7")
            ui.label(profile.team_name or _("No team"))
        name = ui.input(_("Name"), value=profile.full_name).classes("w-full").props("maxlength=200").mark("full-name")
        phone = (
            ui.input(_("Phone"), value=profile.phone or "")
            .classes("w-full")
            .props("maxlength=30 type=tel")
            .mark("phone")
        )
        language = ui.select(LANGUAGE_NAMES, label=_("Language"), value=shown_language).classes("w-full")
        theme = ui.select(themes, label=_("Theme"), value=profile.theme.value).classes("w-full")
        zones = list(users.timezone_choices())
        if profile.timezone not in zones:
            zones.insert(0, profile.timezone)
        zone = (
            ui.select(zones, label=_("Time zone"), value=profile.timezone, with_input=True)
            .classes("w-full")
            .mark("timezone")
        )
        ui.button(_("Save"), on_click=save).props("unelevated").classes("q-mt-md").mark("save-profile")

    _email_card(profile.email)
    refresh_sessions = await _sessions_card(profile.timezone)
    _password_card(profile.email, refresh_sessions)
    await _tokens_card(profile.timezone)


def _email_card(email: str) -> None:
    """ "Change email": a link sent to the new address confirms it; the address changes only then."""

    async def send() -> None:
        address = await call(
            accounts.request_email_change,
            new_email=new_email.value or "",
            password=password.value or "",
            client=client_info(),
            fields={"new_email": new_email, "password": password},
        )
        if address is None:
            return
        password.value = ""
        sent.text = _(
            "We sent a confirmation link to {email}. Your address changes once you follow it (within 24 hours).",
            email=address,
        )
        sent.set_visibility(True)

    with ui.card().classes("w-full max-w-xl q-mt-md"):
        ui.label(_("Change email")).classes("text-h6")
        ui.label(_("Current address: {email}", email=email)).classes("text-grey-8")
        new_email = ui.input(_("New email")).props("type=email autocomplete=email").classes("w-full").mark("new-email")
        password = (
            ui.input(_("Current password"), password=True, password_toggle_button=True)
            .props("autocomplete=current-password")
            .classes("w-full")
            .mark("email-password")
        )
        sent = ui.label().classes("text-positive").props("role=status").mark("email-change-sent")
        sent.set_visibility(False)
        ui.button(_("Change email"), on_click=send).props("unelevated").classes("q-mt-sm").mark("change-email")


async def _sessions_card(timezone: str) -> Callable[[], Awaitable[None]]:
    """The actor's live sessions with "sign out everywhere else"; returns how to reload the list."""
    kinds = {SessionKind.WEB: _("Browser"), SessionKind.API: _("API access")}

    @ui.refreshable
    def session_list(rows: list[SessionRow]) -> None:
        with ui.list().props("separator").classes("w-full").mark("sessions"):
            for row in rows:
                with ui.item().mark("session"):
                    with ui.item_section().props("avatar"):
                        ui.icon("computer" if row.kind is SessionKind.WEB else "key")
                    with ui.item_section():
                        ui.item_label(row.device or kinds[row.kind])
                        ui.item_label(
                            _(
                                "{kind} · IP {ip} · last seen {when}",
                                kind=kinds[row.kind],
                                ip=row.ip or "—",
                                when=format_datetime(row.last_seen_at, timezone, style="short"),
                            )
                        ).props("caption")
                    if row.is_current:
                        with ui.item_section().props("side"):
                            ui.badge(_("This session")).props("color=positive")

    async def refresh() -> None:
        rows = await call(auth.list_sessions)
        if rows is not None:
            session_list.refresh(rows)
            others.set_visibility(any(not row.is_current for row in rows))

    async def end_others() -> None:
        ended = await call(auth.end_other_sessions, client=client_info())
        if ended is None:
            return
        ui.notify(_("Other sessions signed out: {count}.", count=ended), type="positive")
        await refresh()

    with ui.card().classes("w-full max-w-xl q-mt-md"):
        ui.label(_("Active sessions")).classes("text-h6")
        rows = await call(auth.list_sessions) or []
        session_list(rows)
        others = (
            ui.button(_("Sign out everywhere else"), icon="logout", on_click=end_others)
            .props("outline color=negative")
            .mark("end-other-sessions")
        )
        others.set_visibility(any(not row.is_current for row in rows))
    return refresh


def _password_card(email: str, after_change: Callable[[], Awaitable[None]]) -> None:
    async def change() -> None:
        ended = await call(
            auth.change_password,
            current_password=current.value or "",
            new_password=new.value or "",
            client=client_info(),
            fields={"current_password": current, "new_password": new},
        )
        if ended is None:
            return
        current.value = new.value = ""
        ui.notify(_("Your password was changed. Your other sessions were signed out."), type="positive")
        await after_change()

    def show_rules() -> None:
        problems = passwords.password_problems(new.value or "", email) if new.value else []
        rules.text = " ".join(_(problem) for problem in problems)

    with ui.card().classes("w-full max-w-xl q-mt-md"):
        ui.label(_("Change password")).classes("text-h6")
        current = (
            ui.input(_("Current password"), password=True, password_toggle_button=True)
            .props("autocomplete=current-password")
            .classes("w-full")
            .mark("current-password")
        )
        new = (
            ui.input(_("New password"), password=True, password_toggle_button=True, on_change=show_rules)
            .props("autocomplete=new-password")
            .classes("w-full")
            .mark("new-password")
        )
        rules = ui.label().classes("text-caption text-negative").mark("password-rules")
        ui.button(_("Change password"), on_click=change).props("unelevated").classes("q-mt-sm").mark("change-password")


async def _tokens_card(timezone: str) -> None:
    """The actor's personal API tokens: create one (shown once), see their last use, revoke."""

    @ui.refreshable
    def token_list(rows: list[TokenRow]) -> None:
        token_widgets.token_list(rows, timezone, revoke)

    async def refresh() -> None:
        rows = await call(api_tokens.list_tokens)
        if rows is not None:
            token_list.refresh(rows)

    async def revoke(row: TokenRow) -> None:
        if await call(api_tokens.revoke_token, row.id, client=client_info()) is not None:
            ui.notify(_("Token revoked: it no longer works."), type="positive")
            await refresh()

    with ui.card().classes("w-full max-w-xl q-mt-md").mark("api-tokens-card"):
        ui.label(_("API tokens")).classes("text-h6")
        ui.label(
            _(
                "A personal token lets another application use the CRM's API as you, limited to the scopes "
                "you choose. Anyone holding it can do so: revoke it as soon as it is no longer needed."
            )
        ).classes("text-grey-8")
        token_list(await call(api_tokens.list_tokens) or [])
        ui.button(_("New API token"), icon="add", on_click=lambda: token_widgets.create_dialog(refresh)).props(
            "outline no-caps"
        ).mark("new-token")
