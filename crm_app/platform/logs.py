"""JSON log lines on stdout (journald keeps them), with request/job and user ids where known."""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("user_id", default=None)


class ContextFilter(logging.Filter):
    """Adds the ids of the current request, job and user to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id_var), ("job_id", job_id_var), ("user_id", user_id_var)):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        # uvicorn adds an ANSI-coloured copy of its message; journald wants the plain one only.
        if hasattr(record, "color_message"):
            del record.color_message
        return True


def configure_logging(level: str = "INFO") -> None:
    """Send every log record, ours and the libraries', as one JSON object per line to stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Quiet the per-run chatter of libraries; their warnings and errors still come through.
    for name in ("apscheduler.executors.default", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(logging.WARNING)
