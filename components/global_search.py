"""The search box of the header: whatever the areas registered (`crm_app.platform.search`), a few results
per kind under its heading, as you type.

It is Quasar's QSelect with an input (`use-input`): Quasar gives it the combobox's keyboard and roles
(the input is a `combobox`, the results a `listbox` of `option`s, `aria-activedescendant` follows the
highlighted one): the arrows move the highlight, Enter opens it, Escape closes the results and leaves
the box. The server sends the options; headings are disabled options, which the arrows skip. `/` and
Ctrl+K (⌘K) focus the box (components/opex.js, which finds it by its `data-opex-search` attribute).
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from components.backend import call
from crm_app.platform import search
from crm_app.platform.i18n import gettext as _
from crm_app.platform.search import SearchGroup

#: One option: a heading (not selectable), a record, or the group's filtered list. Vue escapes the
#: interpolated texts, so a name is shown as typed, never as HTML.
OPTION_TEMPLATE = r"""
<q-item-label v-if="props.opt.header" header role="presentation" class="q-pt-sm q-pb-xs text-weight-medium">
  {{ props.opt.label }}
</q-item-label>
<q-item v-else v-bind="{...props.itemProps, 'aria-label': props.opt.aria}" :data-search-hit="props.opt.kind">
  <q-item-section avatar class="min-w-0">
    <q-icon :name="props.opt.icon" :color="props.opt.see_all ? 'primary' : 'grey-7'" />
  </q-item-section>
  <q-item-section class="min-w-0">
    <q-item-label :class="props.opt.see_all ? 'text-primary' : ''">{{ props.opt.label }}</q-item-label>
    <q-item-label v-if="props.opt.caption" caption>{{ props.opt.caption }}</q-item-label>
  </q-item-section>
  <q-item-section v-if="props.opt.status" side>
    <q-item-label caption>{{ props.opt.status }}</q-item-label>
  </q-item-section>
</q-item>
"""


def options_of(groups: list[SearchGroup]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The select's options for these groups, and where each selectable option leads."""
    options: list[dict[str, Any]] = []
    links: dict[str, str] = {}
    for group in groups:
        heading = _(group.label)
        options.append({"value": f"heading:{group.kind}", "label": heading, "header": True, "disable": True})
        for hit in group.hits:
            value = f"{hit.kind}:{hit.id}"
            status = _(hit.status) if hit.status else ""
            options.append(
                {
                    "value": value,
                    "label": hit.title,
                    "caption": hit.subtitle,
                    "status": status,
                    "icon": group.icon,
                    "kind": hit.kind,
                    "aria": ", ".join(part for part in (heading, hit.title, hit.subtitle, status) if part),
                }
            )
            links[value] = hit.link
        if group.see_all:
            value = f"all:{group.kind}"
            label = _("See all: {kind}", kind=heading)
            options.append(
                {
                    "value": value,
                    "label": label,
                    "icon": "arrow_forward",
                    "see_all": True,
                    "kind": group.kind,
                    "aria": label,
                }
            )
            links[value] = group.see_all
    return options, links


class GlobalSearch:
    def __init__(self) -> None:
        self.latest = ""
        self.links: dict[str, str] = {}
        self.box = (
            ui.element("q-select")
            .props(
                "use-input hide-selected hide-dropdown-icon input-debounce=200 behavior=menu dense standout dark "
                "options-dense menu-anchor='bottom left' menu-self='top left' popup-content-class=opex-search-results "
                f'data-opex-search aria-label="{_("Search everywhere")}" placeholder="{_("Search (/)")}"'
            )
            .classes("w-72")
            .mark("global-search")
        )
        self.box.props["model-value"] = None
        self.box.props["options-dark"] = False  # the box is light on dark, its results follow the page (opex.css)
        self.box.props["options"] = []
        self.box.add_slot("prepend", '<q-icon name="search" />')  # drawn by Vue: no element on the server
        self.box.add_slot("option", OPTION_TEMPLATE)
        self.box.on("inputValue", self.run_search)
        self.box.on("update:modelValue", self.open_option)
        # Escape: Quasar closes the results (and empties the box); the box then lets go of the focus.
        self.box.on("keyup.esc", js_handler="(event) => event.target.blur()")

    def set_options(self, options: list[dict[str, Any]], links: dict[str, str] | None = None) -> None:
        """Show these options. The links of the last results are kept when the box is emptied: choosing
        an option empties it (Quasar sends the new text before the choice)."""
        if links is not None:
            self.links = links
        self.box.props["options"] = options
        self.box.update()

    async def run_search(self, event: Any) -> None:
        text = str((event.args[0] if isinstance(event.args, list) else event.args) or "").strip()
        self.latest = text
        if len(text) < search.MIN_LENGTH:
            self.set_options([])
            return
        groups = await call(search.search_everything, text)
        if groups is None or self.latest != text or self.box.is_deleted:  # a newer keystroke is on its way
            return
        options, links = options_of(groups)
        if not options:
            options = [{"value": "none", "label": _("No results"), "disable": True, "header": True}]
        self.set_options(options, links)
        self.box.run_method("showPopup")

    def open_option(self, event: Any) -> None:
        chosen = event.args[0] if isinstance(event.args, list) else event.args
        link = self.links.get(str((chosen or {}).get("value"))) if isinstance(chosen, dict) else None
        self.latest = ""
        self.set_options([])
        if link is not None:
            self.box.run_method("blur")
            ui.navigate.to(link)


def global_search() -> GlobalSearch:
    return GlobalSearch()
