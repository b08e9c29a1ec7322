"""The application's stylesheet (components/opex.css) and script (components/opex.js), inlined in the
head of every page.

Inlined rather than linked: they are small (about 2 KB compressed), and a page needs no second request
before it can be drawn. NiceGUI's Tailwind runtime is switched off (crm_app/web.py): the utility
classes the screens use are defined in the stylesheet instead."""

import functools
import re
from pathlib import Path

from nicegui import Client, __version__, app, ui
from nicegui.dependencies import esm_modules

STYLESHEET = Path(__file__).with_name("opex.css")
SCRIPT = Path(__file__).with_name("opex.js")


def _chart_preloads() -> str:
    """Module preloads of NiceGUI's chart element and of the ECharts library it imports (its entry and
    the chunks the entry imports, about 1.1 MB). A screen reached without a page load (`ui.sub_pages`)
    applies its first update only once the modules of its new elements are imported: the dashboard, the
    home screen, waited for ECharts to be fetched and compiled before showing any figure. Preloaded, the
    browser does it while the page it leaves is idle, from its cache after the first time."""
    base = f"/_nicegui/{__version__}"
    echart = ui.echart.component
    assert echart is not None
    urls = [f"{base}/components/{echart.key}"]
    for key, module in esm_modules.items():
        if module.name == "nicegui-echart":
            entry = Path(module.path) / "index.js"
            chunks = re.findall(r'from"\./([\w.-]+\.js)"', entry.read_text(encoding="utf-8"))
            urls += [f"{base}/esm/{key}/{name}" for name in ("index.js", *chunks)]
    links = "".join(f'<link rel="modulepreload" href="{url}">\n' for url in urls)
    # Preloading fetches and compiles; the import runs the modules (ECharts' own set-up included), once
    # the page is loaded and the browser idle: the dashboard's first update then waits for nothing.
    idle_import = (
        '<script type="module">\n'
        'addEventListener("load", () => {\n'
        "  const later = window.requestIdleCallback ?? ((run) => setTimeout(run, 200));\n"
        f'  later(() => import("{urls[0]}"));\n'
        "});\n"
        "</script>\n"
    )
    return links + idle_import


@functools.cache
def _head_html() -> str:
    return (
        f'<style id="opex-css">\n{STYLESHEET.read_text(encoding="utf-8")}</style>\n'
        f'<script id="opex-js">\n{SCRIPT.read_text(encoding="utf-8")}</script>\n' + _chart_preloads()
    )


def install() -> None:
    """Add the stylesheet and the script to every page (once per process, however often the app is set up),
    and set the brand colours in Quasar's configuration: one setting for every page, rather than a
    `ui.colors` element in every tab (issue 20, a tab's server memory)."""
    app.colors(primary="#0b6e99", secondary="#26a69a", accent="#7e57c2")
    if _head_html() not in Client.shared_head_html:
        Client.shared_head_html += _head_html() + "\n"
