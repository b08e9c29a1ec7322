"""The remembered `expects_arguments` answers exactly as NiceGUI's own."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from nicegui import helpers

from crm_app.serving import nicegui_patches


class Handlers:
    def none(self) -> None: ...
    def one(self, event: Any) -> None: ...
    def optional(self, event: Any = None) -> None: ...
    def variadic(self, *args: Any, **kwargs: Any) -> None: ...
    def keyword_only(self, *, event: Any) -> None: ...

    @functools.wraps(one)
    def wrapped(self, *args: Any) -> None: ...


def plain(event: Any) -> None: ...


METHODS = ("none", "one", "optional", "variadic", "keyword_only", "wrapped")
CALLABLES = [
    *(getattr(Handlers(), name) for name in METHODS),
    plain,
    lambda: None,
    lambda e: None,
    functools.partial(plain),
    print,
]


@pytest.mark.parametrize("func", CALLABLES)
def test_the_same_answer_as_nicegui(func: Any) -> None:
    assert nicegui_patches.expects_arguments(func) is nicegui_patches._original(func)
    assert nicegui_patches.expects_arguments(func) is nicegui_patches._original(func)  # and when remembered


def test_installed_with_the_app() -> None:
    nicegui_patches.install()
    assert helpers.expects_arguments is nicegui_patches.expects_arguments
