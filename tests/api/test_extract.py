"""``POST /v1/extract``: one job of two stages, OCR on the ocr worker then schema-constrained
generation on the llm worker. Real API, Redis, PaddleOCR and an llm worker (the suite's tiny
random model here: the JSON is valid against its schema whatever the model; whether the default
model reads the right values is tests/api/test_extract_accuracy.py's)."""

import base64
import json

import jsonschema
import pytest

from devtools.documents import scanned_pdf
from tests.builders import submit, text_image, wait_for_job

INVOICE = ["INVOICE 1042", "Acme Tools Ltd", "Total: 42.50 EUR"]
SCHEMA = {
    "type": "object",
    "properties": {"number": {"type": "integer"}, "vendor": {"type": "string", "maxLength": 20}},
    "required": ["number", "vendor"],
}


def _extract(client, body: dict) -> dict:
    job = wait_for_job(client, submit(client, "/v1/extract", body), timeout=180)
    assert job["status"] == "succeeded", job
    return job


def test_an_image_runs_ocr_then_the_llm_and_gives_json_valid_against_the_schema(client, ocr_worker, llm_worker):
    image = base64.b64encode(text_image(INVOICE)).decode()
    body = {"image_base64": image, "schema": SCHEMA, "instructions": "The invoice's number and vendor.",
            "max_new_tokens": 40}  # fmt: skip
    job = _extract(client, body)
    assert (job["domain"], job["task"]) == ("llm", "extract")
    result = job["result"]
    # What the OCR stage read, given to the model (PaddleOCR may drop a space after capitals).
    assert result["text"].replace(" ", "").split("\n") == [line.replace(" ", "") for line in INVOICE]
    assert result["pages"] == 1 and result["pages_failed"] == 0
    assert result["models"]["ocr"].startswith("PP-OCRv4") and result["models"]["llm"]
    if result["finish_reason"] == "stop":
        jsonschema.validate(result["data"], SCHEMA)
    assert result["usage"]["prompt_tokens"] > 20
    # The stages, in the job's events: the OCR stage's page progress, then the llm's.
    events = client.get(f"/v1/jobs/{job['id']}/events").text
    data = [json.loads(line.removeprefix("data: ")) for line in events.splitlines() if line.startswith("data: {")]
    stages = [d.get("stage") for d in data if "stage" in d]
    assert stages[0] == "ocr" and "llm" in stages and stages.index("llm") > stages.index("ocr"), data


def test_a_scanned_pdf_is_read_page_by_page_then_extracted(client, ocr_worker, llm_worker):
    pdf = scanned_pdf([["Invoice 7"], ["Total: 9.99"]])
    answer = client.post(
        "/v1/extract",
        files={"file": ("invoice.pdf", pdf, "application/pdf")},
        data={"schema": json.dumps(SCHEMA), "max_new_tokens": "30"},
    )
    assert answer.status_code == 202, answer.text
    result = wait_for_job(client, answer.json()["id"], timeout=180)["result"]
    assert result["pages"] == 2 and result["text"].split("\f") == ["Invoice 7", "Total: 9.99"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schema": SCHEMA}, "body"),  # no image
        ({"image_base64": "aGk=", "schema": "not json"}, "schema"),
        ({"image_base64": "aGk=", "schema": {"type": "object"}, "instructions": ""}, "instructions"),
        ({"image_base64": "aGk=", "schema": SCHEMA, "output": "pdf"}, "output"),
        ({"image_base64": "aGk=", "schema": SCHEMA, "max_new_tokens": 10**6}, "max_new_tokens"),
        ({"image_base64": "aGk=", "schema": ["not", "an", "object"]}, "schema"),
        ({"image_base64": "aGk=", "schema": {"type": "object", "properties": {"a": {"type": "nothing"}}}}, "schema"),
    ],
)
def test_a_bad_extraction_is_refused_naming_the_field_and_queues_nothing(client, nothing_enqueued, body, field):
    answer = client.post("/v1/extract", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["error"]["message"], answer.text
