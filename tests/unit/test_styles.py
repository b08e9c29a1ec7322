"""The application's stylesheet: every class the screens use is defined somewhere, and the page carries it.

NiceGUI's Tailwind runtime is off (crm_app/web.py); a class that neither components/opex.css nor
Quasar's or NiceGUI's stylesheets define would silently do nothing."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import nicegui
from nicegui import Client

from components import styles

ROOT = Path(__file__).resolve().parents[2]
NICEGUI_STATIC = Path(nicegui.__file__).parent / "static"
#: Quasar defines these in a layer below NiceGUI's rows and columns (which set align-items): the
#: application's own utilities layer must define them, or `ui.row().classes("items-center")` is ignored.
ALIGNMENT = re.compile(r"^(items|justify|self|content)-|^text-(left|center|right|justify)$")


def _defined(css: str) -> set[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    names = re.findall(r"\.((?:\\.|[-_a-zA-Z0-9])+)", css)
    return {name.replace("\\", "") for name in names}


def _strings(node: ast.AST) -> Iterator[str]:
    """The string constants in an expression; an f-string as one string, "{}" for each value."""
    if isinstance(node, ast.JoinedStr):
        yield "".join(str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    else:
        for child in ast.iter_child_nodes(node):
            yield from _strings(child)


def _class_strings(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """The class lists in `.classes(...)` calls (any argument) and in `class="..."` or
    `:class="cond ? 'a' : 'b'"` of HTML and slot templates."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "classes":
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                yield from ((text, node.lineno) for text in _strings(argument))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "class=" in node.value:
            for match in re.finditer(r'(?<![:\w-])class="([^"]*)"', node.value):
                yield match.group(1), node.lineno
            for match in re.finditer(r':class="([^"]*)"', node.value):
                for quoted in re.findall(r"'([^']*)'", match.group(1)):
                    yield quoted, node.lineno


def _used() -> dict[str, str]:
    used: dict[str, str] = {}
    for folder in ("components", "pages", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for text, line in _class_strings(ast.parse(path.read_text(encoding="utf-8"))):
                for name in text.split():
                    if "{" not in name and "}" not in name:  # f-string parts: their values are Quasar colours
                        used.setdefault(name, f"{path.relative_to(ROOT)}:{line}")
    return used


def test_every_class_the_screens_use_is_defined() -> None:
    own = _defined(styles.STYLESHEET.read_text(encoding="utf-8"))
    framework = set().union(
        *(
            _defined((NICEGUI_STATIC / name).read_text(encoding="utf-8"))
            for name in ("quasar.unimportant.prod.css", "quasar.important.prod.css", "nicegui.css")
        )
    )
    used = _used()
    assert {"w-full", "gap-2", "items-center", "text-h6", "q-pa-md", "w-[44rem]"} <= set(used)  # the scan finds them
    missing = {name: where for name, where in used.items() if name not in own | framework}
    assert not missing, f"classes defined nowhere (add them to components/opex.css): {missing}"
    overridden = {name: where for name, where in used.items() if ALIGNMENT.search(name) and name not in own}
    assert not overridden, f"alignment classes NiceGUI's rows and columns override: {overridden}"


def test_the_scan_reports_an_undefined_class() -> None:
    source = (
        'ui.row().classes("w-full nowhere-defined" if x else f"bg-{colour} third")\n'
        "ui.html('<div class=\"also-missing\">')"
    )
    names = {name for text, _ in _class_strings(ast.parse(source)) for name in text.split()}
    assert {"nowhere-defined", "also-missing", "bg-{}", "third"} <= names
    assert "nowhere-defined" not in _defined(styles.STYLESHEET.read_text(encoding="utf-8"))


def test_the_stylesheet_and_the_script_are_in_every_page_once() -> None:
    styles.install()
    styles.install()
    head = Client.shared_head_html
    assert head.count('<style id="opex-css">') == 1
    assert ".opex-nav" in head and "@layer utilities" in head
    assert head.count('<script id="opex-js">') == 1
    assert "window.opexDrawer" in head
