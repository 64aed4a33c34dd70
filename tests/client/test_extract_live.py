"""``domainq extract`` against the real stack: a rendered invoice through the OCR worker, then the
llm worker (the suite's tiny random model: its JSON is valid against the schema whenever it
stopped on its own, whatever the values; whether a real model reads them right is
tests/api/test_extract_accuracy.py's)."""

import json

import jsonschema

from tests.builders import text_image

INVOICE = ["INVOICE 1042", "Acme Tools Ltd", "Total: 42.50 EUR"]
# No free strings: the random model's strings can hold raw control characters, which the worker's
# json.loads refuses, giving data null with finish_reason "stop" (a server-side matter).
SCHEMA = {
    "type": "object",
    "properties": {"number": {"type": "integer"}, "currency": {"enum": ["EUR", "USD", "GBP"]}},
    "required": ["number", "currency"],
    "additionalProperties": False,
}


def test_domainq_extract_reads_a_rendered_invoice_into_json_valid_against_the_schema(
    domainq, ocr_worker, llm_worker, tmp_path
):
    image = tmp_path / "invoice.png"
    image.write_bytes(text_image(INVOICE))
    schema = tmp_path / "invoice.schema.json"
    schema.write_text(json.dumps(SCHEMA))
    run = domainq(
        "extract", str(image), "--schema", str(schema), "--instructions", "The invoice's number and currency.",
        "--max-new-tokens", "64", "--full", timeout=240,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr
    result = json.loads(run.stdout)
    # The OCR stage's text, as given to the model (PaddleOCR may drop a space after capitals).
    assert result["text"].replace(" ", "").split("\n") == [line.replace(" ", "") for line in INVOICE]
    assert (result["pages"], result["pages_failed"]) == (1, 0)
    assert result["models"]["ocr"] and result["models"]["llm"]
    if result["finish_reason"] == "stop":
        assert run.returncode == 0, run.stderr
        jsonschema.validate(result["data"], SCHEMA)
    else:  # cut short by max_new_tokens: no data, exit 1 saying so
        assert (result["data"], run.returncode) == (None, 1) and "cut short" in run.stderr
    assert run.stderr.startswith("job ")
