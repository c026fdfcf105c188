"""Fuzz every API operation from its OpenAPI description (schemathesis): whatever a client
sends, the answer is never a server error."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES = 25  # per operation


def test_no_server_errors_on_any_operation(home: Path) -> None:
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    headers = {"Authorization": f"Bearer {ensure_admin()}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
        fuzzed.append(operation.label)
    assert len(fuzzed) > 40, fuzzed
