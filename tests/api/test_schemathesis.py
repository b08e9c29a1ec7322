"""The whole REST API under generated input (schemathesis, property-based): no answer is a 5xx, every
status is one the OpenAPI document lists for its operation, and every body fits its schema.

A real `opex-crm serve` on the test database, an administrator's bearer token, a few examples per
operation (up to 10 valid and 10 invalid ones), derandomized so that a CI run is the same every time:
about 100 s on the 2-core machine, with the server's start. One
operation is left out: `POST /api/auth/logout` ends the administrator's own session, after which every
other operation could only answer 401 (ending the *other* sessions, `DELETE /api/auth/sessions`,
leaves this token alive and is tested)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from crm_app.platform.db import unit_of_work
from crm_app.platform.models.people import Role
from tests.conftest import truncate_all
from tests.factories import PASSWORD, make_user
from tests.servers import Server, running_server

ADMIN_EMAIL = "fuzz-admin@example.org"
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live_api() -> Iterator[tuple[Server, dict[str, str]]]:
    """The server and the administrator's headers; the tables are emptied afterwards."""
    with unit_of_work() as session:
        make_user(session, role=Role.SUPER_ADMIN, email=ADMIN_EMAIL, name="Fuzz Admin")
    try:
        with running_server(SCHEDULER_ENABLED="false") as server:
            login = urllib.request.Request(  # noqa: S310 - the local test server
                f"{server.url}/api/auth/login",
                data=json.dumps({"email": ADMIN_EMAIL, "password": PASSWORD}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(login, timeout=10) as response:  # noqa: S310
                token = json.load(response)["access_token"]
            yield server, {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    finally:
        truncate_all()


#: Left out: it ends the administrator's own session (every later call would be a 401).
EXCLUDED = {("POST", "/api/auth/logout")}
SETTINGS = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,  # the same cases on every run
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)


def _failure(operation: Any, mode: GenerationMode, server: Server, headers: dict[str, str]) -> str | None:
    """Run `operation`'s generated cases of `mode`; the first failure, described, or None."""

    @SETTINGS
    @given(case=operation.as_strategy(mode))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS, timeout=30)

    try:
        run()
    except Unsatisfiable:
        return None  # no invalid input to make: the operation takes none (GET /api/health)
    except (Exception, FailureGroup) as exc:  # FailureGroup: a BaseExceptionGroup
        return f"{operation.label} ({mode.value}): {exc}"
    return None


def test_no_input_gives_a_server_error_or_an_answer_outside_the_schema(
    live_api: tuple[Server, dict[str, str]],
) -> None:
    server, headers = live_api
    schema = schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")
    results = list(schema.get_all_operations())
    broken = [result.err() for result in results if isinstance(result, Err)]
    assert not broken, broken  # every operation of the document can be tested
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    tested = [op for op in operations if (op.method.upper(), op.path) not in EXCLUDED]
    assert len(tested) > 100, [op.label for op in operations]  # the whole API, not a part
    failures = [
        failure
        for operation in tested
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _failure(operation, mode, server, headers)) is not None
    ]
    assert not failures, "\n\n".join(failures) + "\n\nThe server's log:\n" + server.log()
