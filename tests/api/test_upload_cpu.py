"""The CPU work of a large upload: base64 decoding and the idempotency hash run off the event
loop, and a base64 image over the cap is refused before it is decoded. The app runs in-process
(its own Redis database), so the test can see which thread each piece of work ran on."""

import asyncio
import base64
import binascii
import hashlib
import io
import random

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.core.config import ApiSettings
from api.main import create_app
from tests.conftest import stack_of_its_own

LARGE = 1024 * 1024  # past any "small enough to stay inline" threshold


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, int, bool]]:
    """``(what, input size, ran on the event loop)`` of every base64 decode and SHA-256."""
    seen: list[tuple[str, int, bool]] = []
    decode, sha256 = binascii.a2b_base64, hashlib.sha256

    def recording_decode(data, *args, **kwargs):
        seen.append(("decode", len(data), _on_loop()))
        return decode(data, *args, **kwargs)

    def recording_sha256(data=b"", *args, **kwargs):
        seen.append(("sha256", len(data), _on_loop()))
        return sha256(data, *args, **kwargs)

    monkeypatch.setattr(binascii, "a2b_base64", recording_decode)
    monkeypatch.setattr(hashlib, "sha256", recording_sha256)
    return seen


@pytest.fixture
def http(redis_stack, tmp_path) -> TestClient:
    url = stack_of_its_own(redis_stack, tmp_path).redis_url
    with TestClient(create_app(ApiSettings(redis_url=url, auth=False, max_upload_bytes=20 * LARGE))) as client:
        yield client


def _noise_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


def test_a_large_base64_image_is_decoded_and_hashed_off_the_event_loop(http, calls):
    image = _noise_png(700)
    assert len(image) > LARGE
    body = {"image_base64": base64.b64encode(image).decode()}
    answer = http.post("/v1/ocr/recognize", json=body, headers={"Idempotency-Key": "cpu-1"})
    assert answer.status_code == 202, answer.text
    large = [(what, on_loop) for what, size, on_loop in calls if size >= LARGE]
    assert sorted(large) == [("decode", False), ("sha256", False)], calls


def test_a_small_base64_image_stays_on_the_loop(http, calls):
    image = _noise_png(20)
    answer = http.post("/v1/ocr/recognize", json={"image_base64": base64.b64encode(image).decode()})
    assert answer.status_code == 202, answer.text
    assert [on_loop for what, _, on_loop in calls if what == "decode"] == [True]  # cheaper than a hand-off


def test_a_base64_image_over_the_cap_is_refused_without_decoding_it(http, calls):
    text = base64.b64encode(b"\0" * (20 * LARGE + 1)).decode()
    answer = http.post("/v1/ocr/recognize", json={"image_base64": text})
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert [c for c in calls if c[0] == "decode"] == []
