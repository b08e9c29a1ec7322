"""The application frame around every signed-in page: header, navigation drawer, breadcrumb,
language switcher, dark mode, user menu. Screens swap inside it (`ui.sub_pages`), so moving
between them does not reload the whole page while URLs stay real.

No `from __future__ import annotations` here: ui.sub_pages recognises the PageArguments
parameter by its real annotation object."""

import asyncio
import contextlib
import copy
import functools
import html
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, context, run, ui
from nicegui.page_arguments import PageArguments

from components.avatar import avatar_button
from components.backend import ACTOR_KEY, SESSION_KEY, call, client_info, login_url, resolve_actor
from components.empty_state import empty_state
from components.global_search import global_search
from components.menus import lazy_menu
from components.notification_bell import notification_bell
from crm_app.accounts import auth, users
from crm_app.platform import settings as app_settings
from crm_app.platform.i18n import LANGUAGE_NAMES, current_locale
from crm_app.platform.i18n import gettext as _
from crm_app.platform.models.people import Theme
from crm_app.platform.permissions import Actor, can

PageBuilder = Callable[..., Awaitable[None] | None]
LOCALE_KEY = "locale"
log = logging.getLogger(__name__)

#: How long a page's response may wait for the screen of its URL (NiceGUI gives up on a page at 3 s).
FIRST_SCREEN_WAIT = 1.5


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str  # English message id, translated when shown
    builder: PageBuilder
    icon: str | None = None
    in_navigation: bool = False
    order: int = 100
    permission: str | None = None
    parent: str | None = "/"


PAGES: dict[str, PageSpec] = {}


def app_page(
    path: str,
    *,
    title: str,
    icon: str | None = None,
    in_navigation: bool = False,
    order: int = 100,
    permission: str | None = None,
    parent: str | None = "/",
) -> Callable[[PageBuilder], PageBuilder]:
    """Register a screen shown inside the shell. `permission` hides it from the menu and refuses
    it to those who lack the right (the services enforce the same right on every action)."""

    def decorator(builder: PageBuilder) -> PageBuilder:
        PAGES[path] = PageSpec(
            path=path,
            title=title,
            builder=builder,
            icon=icon,
            in_navigation=in_navigation,
            order=order,
            permission=permission,
            parent=parent if path != "/" else None,
        )
        return builder

    return decorator


def _convert(value: str, annotation: Any) -> Any:
    if annotation in (uuid.UUID, "uuid.UUID", "UUID"):
        return uuid.UUID(value)
    if annotation in (int, "int"):
        return int(value)
    return value


BREADCRUMB_KEY = "breadcrumb"


def set_title(title: str) -> None:
    """A screen about one record names it in the breadcrumb and the browser tab."""
    breadcrumb = app.storage.client.get(BREADCRUMB_KEY)
    if isinstance(breadcrumb, Breadcrumb) and breadcrumb.spec is not None:
        breadcrumb.show(breadcrumb.spec, title)
    ui.page_title(f"{title} · OPEx CRM")


def _ancestors(spec: PageSpec) -> list[str]:
    """The registered screens above `spec`, nearest first (the dashboard last)."""
    paths: list[str] = []
    parent = spec.parent
    while parent is not None and parent in PAGES:
        paths.append(parent)
        parent = PAGES[parent].parent
    return paths


class Navigation:
    """The drawer's menu: a link per screen the user may open, the entry of the screen being shown
    marked (aria-current). Plain links, drawn as one element: they open in a new tab on a middle
    click, `ui.sub_pages` turns a click on any local link into in-app navigation, and a tab keeps one
    element for the menu rather than one per entry (18 elements, 60 KiB of server memory per tab;
    issue 20, bench/README.md "What a tab holds"). The texts are escaped here, so the browser does
    not sanitize them again."""

    def __init__(self, actor: Actor, disabled_modules: frozenset[str]) -> None:
        self.entries: list[tuple[str, str, str]] = [
            (spec.path, _(spec.title), spec.icon or "chevron_right")
            for spec in sorted(PAGES.values(), key=lambda s: (s.order, s.path))
            if spec.in_navigation
            and (spec.permission is None or can(actor, spec.permission))
            and app_settings.module_of_path(spec.path) not in disabled_modules
        ]
        self.current: str | None = None
        self.element = (
            ui.html(self._markup(), sanitize=False, tag="nav")
            .classes("opex-nav")
            .props(f'aria-label="{_("Navigation")}"')
            .mark("navigation")
        )

    @property
    def paths(self) -> list[str]:
        return [path for path, _title, _icon in self.entries]

    def _markup(self) -> str:
        current = ' aria-current="page"'
        return "".join(
            f'<a href="{html.escape(path)}" data-icon="{html.escape(icon)}"{current if path == self.current else ""}>'
            f"{html.escape(title)}</a>"
            for path, title, icon in self.entries
        )

    def show(self, spec: PageSpec) -> None:
        """Mark the entry of `spec`'s section: its own, else its nearest ancestor's but the dashboard
        (every screen descends from it: the profile is no part of it)."""
        paths = self.paths
        path = next((path for path in (spec.path, *_ancestors(spec)) if path in paths), None)
        current = path if path is not None and (path != "/" or spec.path == "/") else None
        if current != self.current:
            self.current = current
            self.element.set_content(self._markup())


class Breadcrumb:
    """The trail above the content, drawn again whenever a screen is shown: the links to the screens
    above it, then its own title. One element, as the drawer's menu (`Navigation`): its links and
    separators as elements were four to eight elements per tab (issue 20). Every text is escaped
    here; a record's title is the user's own text."""

    def __init__(self, navigation: Navigation | None = None) -> None:
        self.navigation = navigation
        self.element = (
            ui.html("", sanitize=False, tag="nav")
            .classes("opex-breadcrumb q-mb-md")
            .props(f'aria-label="{_("Breadcrumb")}"')
            .mark("breadcrumb")
        )
        self.spec: PageSpec | None = None
        app.storage.client[BREADCRUMB_KEY] = self

    def show(self, spec: PageSpec, current_title: str | None = None) -> None:
        self.spec = spec
        if self.navigation is not None:
            self.navigation.show(spec)
        crumbs = "".join(
            f'<a href="{html.escape(crumb.path)}">{html.escape(_(crumb.title))}</a>'
            for crumb in reversed([PAGES[path] for path in _ancestors(spec)])
        )
        title = html.escape(current_title or _(spec.title))
        self.element.set_content(f'{crumbs}<span aria-current="page">{title}</span>')


@functools.cache
def _parameters(builder: PageBuilder) -> Mapping[str, inspect.Parameter]:
    """A screen's parameters, read once."""
    return inspect.signature(builder).parameters


SHOWN_KEY = "screen-shown"


@functools.cache
def _screen(spec: PageSpec) -> Callable[[PageArguments], Awaitable[None]]:
    """The builder `ui.sub_pages` calls for `spec`: one per screen for the whole process, not one per
    screen and tab (every tab's shell names every screen; issue 20, a tab's server memory). What is
    the tab's own (its breadcrumb, the event `build_shell` waits for) is in its client storage."""
    return functools.partial(_show_screen, spec)


async def _show_screen(spec: PageSpec, args: PageArguments) -> None:
    try:
        await _show(spec, args)
    except Exception:
        # An unexpected failure (a bug, the database gone) would otherwise leave the screen blank: NiceGUI
        # only logs a failing builder that is a coroutine. What was drawn is taken away and the user told.
        log.exception("the screen %s failed", args.path)
        screens = context.slot.parent
        screens.clear()
        with screens:
            screen_failed()
    finally:
        shown = app.storage.client.get(SHOWN_KEY)
        if isinstance(shown, asyncio.Event):
            shown.set()


async def _show(spec: PageSpec, args: PageArguments) -> None:
    actor = await resolve_actor()  # every screen re-checks the session: revocation is immediate
    if actor is None:
        ui.navigate.to(login_url(args.path))
        return
    breadcrumb = app.storage.client.get(BREADCRUMB_KEY)
    if isinstance(breadcrumb, Breadcrumb):
        breadcrumb.show(spec)
    ui.page_title(f"{_(spec.title)} · OPEx CRM")
    module = app_settings.module_of_path(spec.path)  # a module switched off in /admin/settings
    if module is not None and not await run.io_bound(app_settings.is_module_enabled, module):
        not_found()
        return
    if spec.permission and not can(actor, spec.permission):
        not_allowed()
        return
    parameters = _parameters(spec.builder)
    try:
        kwargs: dict[str, Any] = {
            name: _convert(args.path_parameters[name], p.annotation)
            for name, p in parameters.items()
            if name in args.path_parameters
        }
    except ValueError:
        not_found()
        return
    if "query" in parameters:  # list screens keep their filters in the URL
        kwargs["query"] = {key: args.query_parameters.getlist(key) for key in args.query_parameters}
    result = spec.builder(**kwargs)
    if inspect.isawaitable(result):
        await result


class Screens(ui.sub_pages):
    """`ui.sub_pages` whose unknown path is told in the user's language (NiceGUI writes "404: sub page
    ... not found" in English). The page is still answered with a 404."""

    def _render_404(self) -> None:
        not_found()


def screen_failed() -> None:
    empty_state(
        "error_outline",
        _("This screen could not be shown. Try again in a moment; if it keeps failing, tell your administrator."),
        color="negative",
        back=(_("Back to the dashboard"), "/"),
    ).mark("screen-failed")


def not_found() -> None:
    empty_state("search_off", _("This page does not exist."), back=(_("Back to the dashboard"), "/"))


def not_allowed() -> None:
    empty_state(
        "block", _("You are not allowed to open this page."), color="negative", back=(_("Back to the dashboard"), "/")
    )


async def root(request: Request) -> RedirectResponse | None:
    """Every path that is not /login or /api: the shell, or the login page when signed out."""
    started = asyncio.get_running_loop().time()
    actor = await resolve_actor()
    if actor is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(login_url(path), status_code=303)
    if actor.language and app.storage.user.get(LOCALE_KEY) != actor.language:
        app.storage.user[LOCALE_KEY] = actor.language
    follow_language()
    await build_shell(
        actor,
        await run.io_bound(app_settings.disabled_modules) or frozenset(),
        first_screen_by=started + FIRST_SCREEN_WAIT,
    )
    return None


#: Quasar's language pack for each of the application's languages.
QUASAR_LANGUAGES = {"fr": "fr", "en": "en-US", "es": "es", "de": "de"}


def follow_language() -> None:
    """Quasar's own texts (a table's "Rows per page" and "1-25 of 300", "No data", the date picker's
    months) in this user's language rather than the one `ui.run` set for every page: this tab's page
    answers with that language pack. The page object is NiceGUI's, shared by every tab: each tab
    gets its own copy."""
    page = copy.copy(context.client.page)
    page.language = QUASAR_LANGUAGES.get(current_locale(), "fr")  # type: ignore[assignment]
    context.client.page = page


async def build_shell(
    actor: Actor, disabled_modules: frozenset[str] = frozenset(), *, first_screen_by: float | None = None
) -> None:
    """The frame and, inside it, the screen of the current URL.

    The first screen goes out with the page rather than over the websocket after it: a list is on
    screen when the page is, instead of one connection and a round of updates later. Screens are
    async (ui.sub_pages builds them in a task of their own), so this waits for it until
    `first_screen_by` (event loop time), then lets a slower screen arrive over the websocket. Nothing
    may wait for the connection before that: NiceGUI answers as soon as something does (the bell's
    first refresh starts after)."""
    shown = app.storage.client[SHOWN_KEY] = asyncio.Event()
    dark = ui.dark_mode({Theme.DARK: True, Theme.LIGHT: False}.get(Theme(actor.theme)))
    # The brand colours are set once for every page (components/styles.py).

    # Plain elements laid out by components/opex.css, not Quasar's header and drawer: those register
    # with the layout, measure the page while it mounts and force a second layout, which cost each
    # page load 20-40 ms. They sit before the page's <main>, as Quasar's would; the drawer opens and
    # closes in the browser (opexDrawer, components/opex.js).
    context.client.content.classes("opex-app")
    with context.client.layout:
        header = ui.element("header").classes("opex-header").mark("header")
        drawer = (
            ui.element("aside")
            .classes("opex-drawer")
            .props('id="opex-drawer"')
            .mark("drawer")
            .on("click", js_handler="(event) => event.target.closest('a') && opexDrawer.close()")
        )
        backdrop = ui.element("div").classes("opex-backdrop").on("click", js_handler="() => opexDrawer.close()")
    for index, element in enumerate((header, drawer, backdrop)):
        element.move(target_index=index)

    with header:
        titled(
            ui.button(icon="menu")
            .on("click", js_handler="() => opexDrawer.toggle()")
            .props(f'flat round color=white aria-label="{_("Menu")}" aria-controls="opex-drawer"')
            .mark("menu"),
            _("Menu"),
        )
        ui.link("OPEx CRM", "/").classes("text-h6 text-white no-underline me-auto")
        global_search()
        bell = notification_bell(actor)
        _language_select(actor)
        _dark_mode_toggle(dark)
        _user_menu(actor)

    with drawer:
        navigation = Navigation(actor, disabled_modules)

    with ui.column().classes("w-full q-pa-md max-w-screen-xl mx-auto"):
        Breadcrumb(navigation)
        # Fixed paths first: "/institutions/new" must win over "/institutions/{institution_id}".
        ordered = sorted(PAGES.values(), key=lambda spec: "{" in spec.path)
        pages = Screens({spec.path: _screen(spec) for spec in ordered}).classes("w-full")
        if pages.has_404:  # no screen to wait for
            shown.set()
    if first_screen_by is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(shown.wait(), max(0.0, first_screen_by - asyncio.get_running_loop().time()))
    ui.timer(0, bell.refresh, once=True)


E = TypeVar("E", bound=ui.element)


def titled(element: E, text: str) -> E:
    """The browser's own tooltip (the `title` attribute) rather than a Quasar tooltip: no element of
    its own on the server for every tab (issue 20); the text is set as a value, so any quote in a
    translation is safe."""
    element.props["title"] = text
    return element


def _language_select(actor: Actor) -> None:
    async def change(event: Any) -> None:
        if event.value == current_locale():
            return
        app.storage.user[LOCALE_KEY] = event.value
        await call(users.update_preferences, language=event.value)
        ui.navigate.reload()

    titled(
        ui.select(LANGUAGE_NAMES, value=current_locale(), on_change=change)
        .props(f'dense borderless dark options-dense aria-label="{_("Language")}"')
        .classes("w-28")
        .mark("language"),
        _("Language"),
    )


def _dark_mode_toggle(dark: ui.dark_mode) -> None:
    async def toggle() -> None:
        theme = Theme.LIGHT if dark.value else Theme.DARK
        dark.set_value(theme is Theme.DARK)
        button.props(f"icon={'light_mode' if dark.value else 'dark_mode'}")
        await call(users.update_preferences, theme=theme)

    button = titled(
        ui.button(icon="light_mode" if dark.value else "dark_mode", on_click=toggle)
        .props(f'flat round color=white aria-label="{_("Dark mode")}"')
        .mark("dark-mode"),
        _("Dark mode"),
    )


def _user_menu(actor: Actor) -> None:
    def build() -> None:
        with ui.column().classes("q-pa-md gap-0"):
            ui.label(actor.full_name).classes("text-weight-medium")
            ui.label(actor.email).classes("text-caption text-grey-7")
        ui.separator()
        ui.menu_item(_("Profile"), on_click=lambda: ui.navigate.to("/profile")).mark("profile")
        ui.menu_item(_("Log out"), on_click=logout).mark("logout")

    lazy_menu(
        avatar_button(actor.full_name, actor.id).props(f'aria-label="{_("User menu")}"').mark("user-menu"),
        build,
        props="anchor='bottom right' self='top right'",
    )


async def logout() -> None:
    await call(auth.logout, client=client_info())
    app.storage.user.pop(SESSION_KEY, None)
    app.storage.client.pop(ACTOR_KEY, None)
    ui.navigate.to("/login")
