"""Plugins written into a temporary PLUGIN_DIRECTORY for the tests, and loaded as the app loads them."""

from __future__ import annotations

import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_app.integrations import plugin_host, plugins
from crm_app.platform.config import get_settings

#: A plugin that keeps every body it receives (its module's RECEIVED), for the events it names.
RECORDER = '''
"""Records the events it receives.

A second paragraph, shown on its page only."""

__version__ = "2.3.1"

RECEIVED = []


def setup(crm):
    for event in {events!r}:
        crm.on(event, RECEIVED.append)
'''

#: A plugin whose handler always raises (CALLS counts them).
RAISING = '''
"""Always fails."""

__version__ = "0.1"

CALLS = []


def setup(crm):
    def handler(body):
        CALLS.append(body["id"])
        raise RuntimeError("boom on " + body["event"])

    crm.on("*", handler)
'''

#: A plugin whose handler blocks until RELEASE is set (or 30 s pass).
SLOW = '''
"""Takes its time."""

import threading

RELEASE = threading.Event()
STARTED = []


def setup(crm):
    def handler(body):
        STARTED.append(body["id"])
        RELEASE.wait(30)

    crm.on("*", handler)
'''


def write_plugin(directory: Path, name: str, source: str, *, package: bool = False) -> Path:
    """`name.py` (or `name/__init__.py` with `package`) in `directory`."""
    if package:
        (directory / name).mkdir()
        path = directory / name / "__init__.py"
    else:
        path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def recorder(events: tuple[str, ...] = ("*",)) -> str:
    return RECORDER.replace("{events!r}", repr(list(events)))


def load_from(directory: Path, *, auto_enable: bool = True, entry_points: bool = False) -> list[plugin_host.Plugin]:
    settings = get_settings().model_copy(update={"plugin_directory": str(directory), "plugin_auto_enable": auto_enable})
    return plugins.load(settings, entry_points=entry_points)


def module_of(name: str) -> Any:
    """The module a plugin of the directory was imported as."""
    return sys.modules[f"{plugin_host.DIRECTORY_PACKAGE}.{name}"]


def kept(name: str, attribute: str) -> list[Any]:
    """What a test plugin kept in one of its lists (RECEIVED, CALLS, STARTED, SEEN)."""
    return list(getattr(module_of(name), attribute))


def event_body(event: str = "invoice.issued", **data: Any) -> dict[str, Any]:
    """A public event's body, as the events catalogue publishes it."""
    return {
        "id": str(uuid.uuid4()),
        "event": event,
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor": {"id": str(uuid.uuid4()), "name": "Claire Dupont"},
        "data": {"id": str(uuid.uuid4()), **data},
    }
