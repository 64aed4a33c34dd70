"""Property-based fuzzing of the served OpenAPI document (schemathesis): whatever a client
sends within or around the documented schemas, no 5xx, and every answer conforms to the
documented responses (the error envelope included). Bounded: a few examples per operation."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_5xx_and_answers_conform_to_the_document(isolated_stack, mode):
    # An API of its own; no worker takes its jobs, which only queue (up to the cap).
    base = isolated_stack.start_api(env={"MAX_QUEUE_DEPTH": "200"})
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not operation.body:
            continue  # nothing to get wrong (/healthz, /v1/keys listing)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=isolated_stack.auth_headers, checks=CHECKS, timeout=30)

        fuzz()
