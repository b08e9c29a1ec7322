"""The application's stylesheet (components/opex.css) and script (components/opex.js), inlined in the
head of every page.

Inlined rather than linked: they are small (about 2 KB compressed), and a page needs no second request
before it can be drawn. NiceGUI's Tailwind runtime is switched off (crm_app/web.py): the utility
classes the screens use are defined in the stylesheet instead."""

import functools
from pathlib import Path

from nicegui import Client

STYLESHEET = Path(__file__).with_name("opex.css")
SCRIPT = Path(__file__).with_name("opex.js")


@functools.cache
def _head_html() -> str:
    return (
        f'<style id="opex-css">\n{STYLESHEET.read_text(encoding="utf-8")}</style>\n'
        f'<script id="opex-js">\n{SCRIPT.read_text(encoding="utf-8")}</script>'
    )


def install() -> None:
    """Add the stylesheet and the script to every page (once per process, however often the app is set up)."""
    if _head_html() not in Client.shared_head_html:
        Client.shared_head_html += _head_html() + "\n"
