"""JSON log lines with the request/job ids."""

from __future__ import annotations

import json
import logging

import pytest

from crm_app.platform.logs import configure_logging, job_id_var, request_id_var


def test_log_lines_are_json_with_context_ids(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        request_token, job_token = request_id_var.set("req-42"), job_id_var.set("quote_reminders")
        try:
            logging.getLogger("crm_app.test").info("quote sent", extra={"quote": "DEV-2026-00001"})
        finally:
            request_id_var.reset(request_token)
            job_id_var.reset(job_token)
        logging.getLogger("uvicorn.error").warning("plain %s", "text", extra={"color_message": "\x1b[36mx"})
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    first, second = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert first["level"] == "INFO" and first["logger"] == "crm_app.test" and first["message"] == "quote sent"
    assert first["request_id"] == "req-42" and first["job_id"] == "quote_reminders"
    assert first["quote"] == "DEV-2026-00001" and "time" in first
    assert second["message"] == "plain text" and "color_message" not in second
