"""One measured fix to NiceGUI's hot path, applied when the app is created.

Every NiceGUI element makes three observable collections (classes, style, props), and each asks
`helpers.expects_arguments` whether its change handler, a bound method of the element, takes
arguments: `inspect.signature` each time. Building the institutions list page (about 200
elements) spent a quarter of its server time there (py-spy, NiceGUI 3.18); remembering the answer
took the server's CPU per load of that page from 111-116 ms to 87-101 ms. The answer depends only
on the function behind a bound method, so it is remembered per function; anything else (lambdas,
partials, wrapped functions) is still asked every time, as before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from nicegui import helpers

_original: Callable[[Callable[..., Any]], bool] = helpers.expects_arguments


@functools.cache
def _bound_method_expects_arguments(function: Callable[..., Any]) -> bool:
    parameters = list(inspect.signature(function).parameters.values())[1:]  # without `self`
    return any(
        p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in parameters
    )


def expects_arguments(func: Callable[..., Any]) -> bool:
    """NiceGUI's `helpers.expects_arguments`, remembered for bound methods of plain functions."""
    function = getattr(func, "__func__", None)
    if inspect.ismethod(func) and inspect.isfunction(function) and not hasattr(function, "__wrapped__"):
        return _bound_method_expects_arguments(function)
    return _original(func)


def install() -> None:
    """Idempotent."""
    helpers.expects_arguments = expects_arguments
