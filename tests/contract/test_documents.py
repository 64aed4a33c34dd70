"""Documents end to end (real API, OCR worker, Redis, PaddleOCR): a PDF or a multi-page TIFF is
one job whose pages run as jobs of their own, with one ordered result; bad documents are refused
at the door with a named reason."""

import io
import json
import re

import httpx
import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdf import PdfReader

from devtools import documents
from tests.builders import as_key, new_key, text_image, wait_for_job
from tests.file_server import Answer, FileServer

PAGES = [["Page one total 7"], ["Page two total 14"], ["Page three total 21"]]
MAX_DOCUMENT = 2_000_000


@pytest.fixture(scope="module")
def api(redis_stack, ocr_worker) -> str:
    env = {"OCR_MAX_PAGES": "5", "OCR_MAX_DOCUMENT_BYTES": str(MAX_DOCUMENT), "INPUT_URL_ALLOW_PRIVATE": "true"}
    base = redis_stack.start_api(domain="ocr", env=env)
    yield base
    # Stopped with the module: an API of other caps would take other tests' OCR batches.
    redis_stack.stop_api(base)


@pytest.fixture
def docs(api, redis_stack):
    with httpx.Client(base_url=api, timeout=60, headers=redis_stack.auth_headers) as client:
        yield client


def _submit(client: httpx.Client, data: bytes, name: str, **fields: str) -> httpx.Response:
    return client.post("/v1/ocr/recognize", files={"file": (name, data)}, data=fields)


def test_a_scanned_pdf_is_one_job_with_its_pages_in_order(docs):
    answer = _submit(docs, documents.scanned_pdf(PAGES), "report.pdf")
    assert answer.status_code == 202, answer.text
    job = wait_for_job(docs, answer.json()["id"], timeout=180)
    assert job["status"] == "succeeded" and job["task"] == "document", job
    result = job["result"]
    assert [p["index"] for p in result["pages"]] == [1, 2, 3]
    assert [p["text"] for p in result["pages"]] == ["Page one total 7", "Page two total 14", "Page three total 21"]
    assert result["text"] == "Page one total 7\fPage two total 14\fPage three total 21"
    assert result["pages_failed"] == 0 and all(p["source"] == "ocr" and p["lines"] for p in result["pages"])
    assert job["progress"] == {"pages_done": 3, "pages_total": 3, "pages_failed": 0}
    assert job["result"]["model"].startswith("PP-OCRv4")


def test_a_tiff_with_a_broken_page_succeeds_with_that_page_failed_alone(docs):
    answer = _submit(docs, documents.tiff_with_bad_page(PAGES, bad=1), "scan.tiff", pages="1-3")
    job = wait_for_job(docs, answer.json()["id"], timeout=180)
    assert job["status"] == "succeeded", job
    first, broken, third = job["result"]["pages"]
    assert (first["text"], third["text"]) == ("Page one total 7", "Page three total 21")
    assert broken["index"] == 2 and broken["error"]["code"] == "page_unreadable" and "text" not in broken
    assert job["result"]["pages_failed"] == 1 and job["result"]["text"] == "Page one total 7\f\fPage three total 21"


def test_pages_choose_what_is_read_and_auto_takes_a_text_layer_as_it_is(docs):
    answer = _submit(docs, documents.text_pdf(PAGES), "typed.pdf", pages="2-", mode="auto")
    job = wait_for_job(docs, answer.json()["id"], timeout=180)
    assert job["status"] == "succeeded", job
    assert [(p["index"], p["source"], p["text"]) for p in job["result"]["pages"]] == [
        (2, "pdf", "Page two total 14"),
        (3, "pdf", "Page three total 21"),
    ]


def test_a_document_by_url_is_fetched_and_counted_by_the_api_before_its_job_is_accepted(docs, client):
    served = {
        "/report.pdf": Answer(body=documents.scanned_pdf(PAGES), headers={"Content-Type": "application/pdf"}),
        "/long.pdf": Answer(body=documents.scanned_pdf(PAGES * 2)),
        "/huge.pdf": Answer(body=b"%PDF-1.7\n" + b"\0" * MAX_DOCUMENT, chunked=True),
    }
    with FileServer(served) as server:
        answer = docs.post("/v1/ocr/recognize", json={"document_url": server.url("/report.pdf"), "pages": "2"})
        assert answer.status_code == 202, answer.text
        assert server.requests == ["/report.pdf"]  # fetched once, by the API, at submit
        refusals = {
            "/long.pdf": (docs, 413, "too_many_pages"),
            "/huge.pdf": (docs, 413, "payload_too_large"),
            "/gone.pdf": (docs, 422, "input_fetch_failed"),
            "/report.pdf": (client, 422, "input_fetch_failed"),  # this API refuses loopback addresses
        }
        for path, (api, status, code) in refusals.items():
            refused = api.post("/v1/ocr/recognize", json={"document_url": server.url(path)})
            assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), refused.text
            if path == "/gone.pdf":
                assert "answered HTTP 404" in refused.json()["error"]["message"]
    job = wait_for_job(docs, answer.json()["id"], timeout=180)
    assert job["status"] == "succeeded" and job["task"] == "document", job
    assert [(p["index"], p["text"]) for p in job["result"]["pages"]] == [(2, "Page two total 14")]


@pytest.mark.parametrize(
    ("data", "fields", "status", "code"),
    [
        (documents.encrypted_pdf(documents.text_pdf(PAGES)), {}, 422, "encrypted_document"),
        (documents.truncated(documents.scanned_pdf(PAGES)), {}, 422, "invalid_document"),
        (documents.scanned_pdf(PAGES * 2), {}, 413, "too_many_pages"),
        (documents.scanned_pdf(PAGES), {"pages": "4-6"}, 422, "invalid_pages"),
        (documents.scanned_pdf(PAGES), {"pages": "one"}, 422, "invalid_request"),
        (documents.scanned_pdf(PAGES), {"dpi": "1000"}, 422, "invalid_request"),
    ],
    ids=["encrypted", "truncated", "too-many-pages", "pages-past-the-end", "pages-not-numbers", "dpi-too-high"],
)
def test_a_bad_document_is_refused_with_a_named_reason_and_records_nothing(
    docs, nothing_enqueued, data, fields, status, code
):
    answer = _submit(docs, data, "doc.pdf", **fields)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_a_canceled_document_stops_its_pages(docs, redis_client):
    pages = [[f"Page {n} of a long document, line {k}" for k in range(12)] for n in range(5)]
    answer = _submit(docs, documents.scanned_pdf(pages), "long.pdf")
    job_id = answer.json()["id"]
    assert docs.delete(f"/v1/jobs/{job_id}").status_code == 200
    job = wait_for_job(docs, job_id)
    assert job["status"] == "canceled" and job["result"] is None
    assert not redis_client.exists(f"dq:job:{job_id}:pages")  # its pages went with it
    events = docs.get(f"/v1/jobs/{job_id}/events").text
    assert (
        "event: done" in events
        and json.loads(events.split("event: done\ndata: ")[1].split("\n")[0])["status"] == "canceled"
    )


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_output_pdf_makes_a_searchable_pdf_with_each_pages_words_at_their_boxes(docs, api):
    source = documents.scanned_pdf(PAGES)
    answer = _submit(docs, source, "report.pdf", pages="1,3", output="pdf")
    assert answer.status_code == 202, answer.text
    job = wait_for_job(docs, answer.json()["id"], timeout=180)
    assert job["status"] == "succeeded" and job["result"]["files"] == ["searchable.pdf"], job

    got = docs.get(f"/v1/jobs/{job['id']}/files/searchable.pdf")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/pdf" and int(got.headers["content-length"]) == len(got.content)
    # An independent reader (pypdf) finds each page's recognized words on that page, only there.
    texts = [_words(page.extract_text()) for page in PdfReader(io.BytesIO(got.content)).pages]
    assert texts == ["Page one total 7", "Page three total 21"]
    # The pages are the document's own (same size), and the words lie where they were recognized:
    # the first character starts at its line's box (pixels at 200 dpi → points).
    made, original = pdfium.PdfDocument(got.content), pdfium.PdfDocument(source)
    for n, (page_number, result) in enumerate(zip((1, 3), job["result"]["pages"], strict=True)):
        assert made[n].get_size() == pytest.approx(original[page_number - 1].get_size(), abs=0.01)
        height = made[n].get_height()
        box = result["lines"][0]["box"]
        left, bottom, _, top = made[n].get_textpage().get_charbox(0)
        points = 72 / 200
        assert abs(left - box[0][0] * points) < 6
        assert height - box[2][1] * points - 2 < bottom < top < height - box[0][1] * points + 2

    # Another key's client cannot read it; a job that made no file has none.
    with httpx.Client(base_url=api, timeout=60, headers=docs.headers) as admin:
        other = new_key(admin, "not-the-owner")
    with as_key(api, other["key"]) as stranger:
        refused = stranger.get(f"/v1/jobs/{job['id']}/files/searchable.pdf")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "job_not_found"
    plain = wait_for_job(docs, _submit(docs, source, "plain.pdf", pages="1").json()["id"], timeout=180)
    missing = docs.get(f"/v1/jobs/{plain['id']}/files/searchable.pdf")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "file_not_found"
    for name in (".hidden", "other.pdf"):
        assert docs.get(f"/v1/jobs/{job['id']}/files/{name}").json()["error"]["code"] == "file_not_found"
    assert docs.get(f"/v1/jobs/{job['id']}/files/..%2F..%2Fjobs").status_code == 404  # no path leaves its files


def test_a_tiffs_searchable_pdf_keeps_a_broken_page_as_a_blank_one(docs):
    answer = _submit(docs, documents.tiff_with_bad_page(PAGES, bad=1), "scan.tiff", output="pdf")
    job = wait_for_job(docs, answer.json()["id"], timeout=180)
    assert job["status"] == "succeeded" and job["result"]["pages_failed"] == 1, job
    pdf = docs.get(f"/v1/jobs/{job['id']}/files/searchable.pdf").content
    texts = [_words(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]
    assert texts == ["Page one total 7", "", "Page three total 21"]


def test_an_images_searchable_pdf_is_one_page_of_that_image(docs):
    image = text_image(["Just an image"])
    answer = _submit(docs, image, "one.png", output="pdf")
    job = wait_for_job(docs, answer.json()["id"], timeout=180)
    assert job["status"] == "succeeded" and job["task"] == "recognize", job
    assert job["result"]["text"] == "Just an image" and job["result"]["files"] == ["searchable.pdf"]
    pdf = docs.get(f"/v1/jobs/{job['id']}/files/searchable.pdf").content
    reader = PdfReader(io.BytesIO(pdf))
    assert [_words(page.extract_text()) for page in reader.pages] == ["Just an image"]
    width, height = Image.open(io.BytesIO(image)).size  # no resolution of its own: 200 dpi
    assert [float(v) for v in reader.pages[0].mediabox[2:]] == pytest.approx([width * 72 / 200, height * 72 / 200])
    plain = wait_for_job(docs, _submit(docs, image, "one.png").json()["id"], timeout=180)
    assert "files" not in plain["result"]  # an image's result as before
