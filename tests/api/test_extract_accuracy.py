"""``POST /v1/extract`` with the default models (PP-OCRv4, SmolLM2-135M-Instruct, greedy): an
invoice rendered as an image, and as a two-page scanned PDF (its total on the second page), give
JSON valid against the schema whose total is the printed one. The layout is the one
``scripts/benchmarks/extract_accuracy.py`` measured: 20 of 20 renders with different numbers
read right (docs/performance.md)."""

import json

import httpx
import jsonschema
import pytest

from devtools.documents import scanned_pdf
from scripts.benchmarks.extract_accuracy import INSTRUCTIONS, SCHEMA
from tests.builders import text_image, wait_for_job
from tests.conftest import ModelStack, stack_of_its_own

INVOICE = ["INVOICE", "Acme Tools Ltd", "Date 2026-11-30", "Widgets 3 x 14.50", "Total 43.50"]


@pytest.fixture(scope="module")
def extract_stack(redis_stack, tmp_path_factory) -> ModelStack:
    """An API and an ocr and an llm worker (the default model), on a Redis database of their own."""
    with stack_of_its_own(redis_stack, tmp_path_factory.mktemp("extract-stack")) as stack:
        stack.start_worker("ocr", wait=180)
        worker = stack.start_worker("llm", env={"LLM_ENGINE": "transformers"}, wait=300)
        yield ModelStack(stack.start_api(domain="all"), worker, stack)


def _extracted(stack: ModelStack, name: str, data: bytes) -> dict:
    with httpx.Client(base_url=stack.api, headers=stack.stack.auth_headers, timeout=60) as client:
        form = {"schema": json.dumps(SCHEMA), "instructions": INSTRUCTIONS, "max_new_tokens": "60"}
        answer = client.post("/v1/extract", files={"file": (name, data)}, data=form)
        assert answer.status_code == 202, answer.text
        job = wait_for_job(client, answer.json()["id"], timeout=300)
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["finish_reason"] == "stop", result
    jsonschema.validate(result["data"], SCHEMA)
    return dict(result)


@pytest.mark.slow
def test_an_invoice_image_gives_its_printed_total(extract_stack):
    result = _extracted(extract_stack, "invoice.png", text_image(INVOICE))
    assert result["data"]["total"] == 43.5, result
    assert result["models"]["llm"] == "SmolLM2-135M-Instruct"


@pytest.mark.slow
def test_a_two_page_pdf_gives_the_total_printed_on_its_second_page(extract_stack):
    pdf = scanned_pdf([INVOICE[:4], ["Payment due in 30 days", INVOICE[4]]])
    result = _extracted(extract_stack, "invoice.pdf", pdf)
    assert result["pages"] == 2 and result["text"].count("\f") == 1
    assert result["data"]["total"] == 43.5, result
