"""Property-based fuzzing of the served OpenAPI document (schemathesis), bounded and reproducible.

Valid requests by the document must be accepted (2xx; 404 where an id does not exist, 409 and
429 are states, not rules), which holds only if the document states every rule the API applies.
Invalid ones must be refused with a 4xx. Every answer: no 5xx, a documented status, and a body
that conforms to the documented schema (the error envelope included). The OpenAI-compatible
routes are not in the document (OpenAI's reference documents them), so not fuzzed here.
"""

import base64
import io

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.formats import unregister_string_format

from tests.file_server import Answer, FileServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
# A body over a size the document states is refused before it is read: 413, a refusal too.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
EXAMPLES = 60  # per operation and mode: about 45 s for the whole test on two cores


def _images() -> list[bytes]:
    """One small image of each format the OCR route takes."""
    images = []
    for fmt in ("PNG", "JPEG", "WEBP", "TIFF", "BMP"):
        out = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format=fmt)
        images.append(out.getvalue())
    return images


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, answered: set[int]) -> None:
    """Send ``EXAMPLES`` requests of ``mode`` to ``operation``, checked; ``answered`` gets their statuses."""

    @seed(30)  # reproducible: the same requests on every run
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case: schemathesis.Case) -> None:
        answered.add(case.call_and_validate(checks=CHECKS, timeout=30).status_code)

    fuzz()


@pytest.fixture
def real_values():
    """What the document describes but a JSON Schema cannot generate: real images for the OCR
    route's ``binary`` and ``byte`` (base64) strings, and URLs whose host resolves (the API
    checks a webhook's at submit; this one allows loopback receivers) and that answer an image
    (the API fetches a ``document_url`` at submit; an image is taken there too)."""
    images = st.sampled_from(_images())
    served = {f"/{n}": Answer(body=image) for n, image in enumerate(_images())}
    with FileServer(served) as server:
        formats = {
            "binary": images,
            "byte": images.map(lambda image: base64.b64encode(image).decode()),
            "uri": st.sampled_from(sorted(served)).map(server.url),
        }
        for name, strategy in formats.items():
            schemathesis.openapi.format(name, strategy)
        yield
        for name in formats:
            unregister_string_format(name)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_valid_requests_are_accepted_invalid_ones_refused_and_answers_conform(isolated_stack, real_values, mode):
    # An API of its own; no worker takes its jobs, which only queue (up to the cap). Small LLM
    # caps, so that the generated values reach them.
    env = {
        "MAX_QUEUE_DEPTH": "1000",
        "DEFAULT_RATE_LIMIT_PER_MINUTE": "0",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "INPUT_URL_ALLOW_PRIVATE": "true",
        "LLM_MAX_NEW_TOKENS_CAP": "64",
        "LLM_MAX_PROMPT_CHARS": "50",
        "LLM_MAX_MESSAGES": "3",
        "LLM_MAX_EMBED_TEXTS": "3",
    }
    base = isolated_stack.start_api(env=env)
    config = SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"apiKey": {"bearer": isolated_stack.admin_key}}},
            "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
        }
    )
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    assert not [op for op in operations if op.path.startswith("/openai/")]

    statuses: dict[str, set[int]] = {}  # what each operation answered
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.iter_parameters()) and not operation.body:
            continue  # nothing to get wrong (/healthz, /v1/keys listing)
        _fuzz(operation, mode, statuses.setdefault(operation.label, set()))

    # Not vacuous: valid requests really were accepted (an id made up is unknown: 404), and
    # invalid bodies really reached the validation (not only the key check).
    if mode is GenerationMode.NEGATIVE:
        for label in ("POST /v1/llm/generate", "POST /v1/llm/embed", "POST /v1/ocr/recognize", "POST /v1/keys"):
            assert 422 in statuses[label], (label, statuses[label])
        return
    for label, answered in statuses.items():
        accepted = {404} if "{" in label else {s for s in answered if 200 <= s < 300}
        assert answered & accepted, (label, answered)
