"""What in a piece of HTML could run in a browser: the check behind the tests of text users wrote."""

from __future__ import annotations

from html.parser import HTMLParser

RUNNABLE_TAGS = frozenset({"script", "iframe", "object", "embed", "style", "link", "meta", "base", "form", "svg"})


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in RUNNABLE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            address = (value or "").strip().lower().replace("\t", "").replace("\n", "")
            with_scheme = name in {"href", "src", "action", "formaction", "xlink:href"} and ":" in address.split("/")[0]
            if with_scheme and not address.startswith(("http:", "https:", "mailto:")):
                self.found.append(f"{tag} {name}={value}")


def runnable_parts(html: str) -> list[str]:
    """The elements and attributes of `html` that a browser could run (empty when it is inert)."""
    finder = _Finder()
    finder.feed(html)
    finder.close()
    return finder.found
