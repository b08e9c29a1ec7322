"""The deployment guides: the same sections in French and English, and every `opex-crm` command they
show exists with the options they give it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from crm_app.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = [DOCS / "deployment.en.md", DOCS / "deployment.fr.md"]


def _sections(path: Path) -> list[str]:
    return [line.split(".", 1)[0] for line in path.read_text().splitlines() if line.startswith("## ")]


def test_both_guides_have_the_same_numbered_sections() -> None:
    english, french = (_sections(path) for path in GUIDES)
    assert english == french == [f"## {n}" for n in range(1, 18)]


def _commands(path: Path) -> list[list[str]]:
    """`opex-crm …` invocations on the command lines of the code blocks ($ or # prompts)."""
    found = []
    for line in path.read_text().splitlines():
        match = re.match(r"^[$#] (?:\S*/)?opex-crm (.*)$", line.strip())
        if match:
            words = shlex.split(match.group(1).split(" #", 1)[0].split(" |", 1)[0].split(" &&", 1)[0])
            found.append(words)
    return found


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_command_in_the_guide_parses(guide: Path) -> None:
    commands = _commands(guide)
    assert len(commands) > 20
    for words in commands:
        command: click.Command = main
        rest = list(words)
        while isinstance(command, click.Group):
            assert rest, words
            sub = command.get_command(click.Context(command), rest[0])
            assert sub is not None, f"no command {rest[0]!r} in {words}"
            command, rest = sub, rest[1:]
        command.make_context(command.name or "", rest)  # raises on an unknown option or a missing argument
