"""Bad input: a 4xx with the error envelope, and nothing recorded or enqueued."""

import base64
import io
import socket
from urllib.parse import urlsplit

import pytest
from PIL import Image

from tests.builders import UNSERVED, enqueue_direct, text_image


def _error(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def _png_of(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_a_text_file_is_not_an_image(client, nothing_enqueued):
    answer = client.post("/v1/ocr/recognize", files={"file": ("notes.txt", b"just some words\n")})
    assert "not an image" in _error(answer, 415, "unsupported_media_type")["message"]


def test_an_image_format_we_do_not_take_is_refused(client, nothing_enqueued):
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, format="GIF")
    answer = client.post("/v1/ocr/recognize", files={"file": ("a.gif", out.getvalue())})
    assert "GIF" in _error(answer, 415, "unsupported_media_type")["message"]


def test_a_truncated_image_is_corrupt(client, nothing_enqueued):
    image = text_image(["Cut short"])
    answer = client.post("/v1/ocr/recognize", files={"file": ("cut.png", image[: len(image) // 2])})
    _error(answer, 422, "invalid_image")


def test_an_upload_over_the_cap_is_413(client, nothing_enqueued):
    answer = client.post("/v1/ocr/recognize", files={"file": ("big.png", b"\x89PNG" + b"\0" * 1_100_000)})
    _error(answer, 413, "payload_too_large")


def _length(answer: bytes) -> int:
    """The Content-Length an HTTP answer's head announces (0 until the head is complete)."""
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
    return next((int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.startswith("content-length:")), 0)


def test_a_form_declaring_more_than_its_file_can_need_is_413_before_its_body_is_sent(api_url, client):
    # Under the route's cap, which leaves room for the same image as base64 JSON (4/3 larger),
    # but over a 1 MB file and its framing: refused on the header alone, nothing read.
    url = urlsplit(api_url)
    head = (
        "POST /v1/ocr/recognize HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {client.headers['authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1200000\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        # No body sent: without an answer, this times out. The answer may come in several
        # packets (its head, then its body): read until the body it announces is all there.
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            chunk = sock.recv(65536)
            assert chunk, answer  # the server closed before the whole answer
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 413 Request Entity Too Large" and b'"payload_too_large"' in rest, answer


def test_a_chunked_upload_over_the_cap_is_413(client, nothing_enqueued):
    def chunks():
        for _ in range(30):
            yield b"x" * 100_000

    answer = client.post("/v1/ocr/recognize", content=chunks(), headers={"content-type": "application/json"})
    _error(answer, 413, "payload_too_large")


def test_a_base64_image_over_the_cap_is_413(client, nothing_enqueued):
    # Under the body limit (which leaves room for base64) but over the cap once decoded.
    data = base64.b64encode(b"\0" * 1_050_000).decode()
    _error(client.post("/v1/ocr/recognize", json={"image_base64": data}), 413, "payload_too_large")


def test_a_decompression_bomb_is_refused_by_pixel_count(client, nothing_enqueued):
    bomb = _png_of(5000, 5000)  # 25 Mpx in a few KB; the test API caps at 4 Mpx
    assert len(bomb) < 100_000
    error = _error(client.post("/v1/ocr/recognize", files={"file": ("bomb.png", bomb)}), 413, "image_too_large")
    assert "5000x5000" in error["message"]


def test_malformed_json(client, nothing_enqueued):
    answer = client.post(
        "/v1/ocr/recognize", content=b'{"image_base64": ', headers={"content-type": "application/json"}
    )
    _error(answer, 422, "invalid_json")


def test_missing_fields(client, nothing_enqueued):
    assert "image_base64" in _error(client.post("/v1/ocr/recognize", json={}), 422, "invalid_request")["message"]
    answer = client.post("/v1/ocr/recognize", files={"other": ("a.png", text_image(["x"]))})
    assert "'file'" in _error(answer, 422, "invalid_request")["message"]


def test_bad_base64(client, nothing_enqueued):
    _error(client.post("/v1/ocr/recognize", json={"image_base64": "not*base64!"}), 422, "invalid_base64")


def test_base64_of_something_that_is_not_an_image(client, nothing_enqueued):
    data = base64.b64encode(b"hello world").decode()
    _error(client.post("/v1/ocr/recognize", json={"image_base64": data}), 415, "unsupported_media_type")


def test_an_unsupported_content_type(client, nothing_enqueued):
    answer = client.post("/v1/ocr/recognize", content=b"abc", headers={"content-type": "text/plain"})
    _error(answer, 415, "unsupported_media_type")


@pytest.mark.parametrize("wait", ["-1", "61", "soon"])
def test_wait_out_of_range(client, job_store, redis_stack, wait):
    job_id = enqueue_direct(job_store, redis_stack.redis_url, UNSERVED, "wait")
    error = _error(client.get(f"/v1/jobs/{job_id}", params={"wait": wait}), 422, "invalid_request")
    assert error["message"].startswith("query.wait")


def test_unknown_route_uses_the_envelope(client):
    _error(client.get("/v1/vision/detect"), 404, "not_found")
