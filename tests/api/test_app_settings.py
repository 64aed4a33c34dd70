"""Each app states and enforces the limits of the settings it was built with, not the
environment's: two apps in one process, two sets of limits."""

import io
import random

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.core.config import ApiSettings
from api.domains.ocr.config import OcrApiSettings
from api.domains.ocr.forms import base64_chars
from api.main import create_app
from common.contracts.llm import LlmLimits

# A form's file may be an image or a document: the larger of the two caps (SMALL: the document's).
SMALL = {"tokens": 8, "body": 4096, "upload": 2000, "document": 3000, "hard_s": 60.0, "pixels": 100}
LARGE = {
    "tokens": 64,
    "body": 1024 * 1024,
    "upload": 1_000_000,
    "document": 500_000,
    "hard_s": 1800.0,
    "pixels": 4_000_000,
}


def _app(redis_url: str, limits: dict) -> TestClient:
    settings = ApiSettings(
        redis_url=redis_url,
        auth=False,
        max_upload_bytes=limits["upload"],
        task_soft_time_limit_s=limits["hard_s"] - 10,
        task_hard_time_limit_s=limits["hard_s"],
        default_rate_limit_per_minute=0,
    ).with_domain_settings(
        LlmLimits(max_new_tokens_cap=limits["tokens"], max_body_bytes=limits["body"]),
        OcrApiSettings(max_pixels=limits["pixels"], max_document_bytes=limits["document"]),
    )
    return TestClient(create_app(settings))


def _png(side: int, noisy: bool = False) -> bytes:
    """A gray PNG ``side`` pixels square; a noisy one does not compress (a byte a pixel)."""
    pixels = random.Random(side).randbytes(side * side) if noisy else bytes(side * side)
    out = io.BytesIO()
    Image.frombytes("L", (side, side), pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def apps(isolated_stack):
    with _app(isolated_stack.redis_url, SMALL) as small, _app(isolated_stack.redis_url, LARGE) as large:
        yield {"small": (small, SMALL), "large": (large, LARGE)}


def test_each_app_states_its_own_limits(apps):
    for client, limits in apps.values():
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        generate = schemas["GenerateSubmission"]["properties"]
        assert generate["max_new_tokens"]["maximum"] == limits["tokens"]
        for name in ("GenerateSubmission", "EmbedSubmission"):
            assert schemas[name]["properties"]["time_limit_s"]["anyOf"][0]["maximum"] == limits["hard_s"]
        body = client.get("/openapi.json").json()["paths"]["/v1/ocr/recognize"]["post"]["requestBody"]["content"]
        as_json = body["application/json"]["schema"]["properties"]
        assert as_json["image_base64"]["maxLength"] == base64_chars(limits["upload"])
        assert as_json["time_limit_s"]["anyOf"][0]["maximum"] == limits["hard_s"]
        as_form = body["multipart/form-data"]["schema"]["properties"]
        assert as_form["file"]["maxLength"] == max(limits["upload"], limits["document"])
        assert as_form["time_limit_s"]["maximum"] == limits["hard_s"]
        assert str(limits["pixels"]) in as_form["file"]["description"]


def test_each_app_enforces_its_own_limits(apps):
    small, large = apps["small"][0], apps["large"][0]
    over_small = [
        ("/v1/llm/generate", {"json": {"prompt": "a", "max_new_tokens": SMALL["tokens"] + 1}}, 422),
        ("/v1/llm/generate", {"json": {"prompt": "a", "time_limit_s": SMALL["hard_s"] + 1}}, 422),
        ("/v1/llm/embed", {"json": {"texts": ["a"], "time_limit_s": SMALL["hard_s"] + 1}}, 422),
        ("/v1/llm/generate", {"json": {"prompt": "a" * SMALL["body"]}}, 413),
        ("/v1/ocr/recognize", {"files": {"file": ("big.png", _png(64, noisy=True))}}, 413),
        ("/v1/ocr/recognize", {"files": {"file": ("wide.png", _png(11))}}, 413),  # 121 pixels
        ("/v1/ocr/recognize", {"files": {"file": ("a.png", _png(8))}, "data": {"time_limit_s": "61"}}, 422),
    ]
    assert len(_png(64, noisy=True)) > SMALL["upload"] and len(_png(11)) < SMALL["upload"]
    for path, request, status in over_small:
        refused = small.post(path, **request)
        assert refused.status_code == status, (path, refused.text)
        accepted = large.post(path, **request)
        assert accepted.status_code == 202, (path, accepted.text)
