"""The seed's mechanism: DOMAIN decides which routers an API process loads."""

import json
import os
import subprocess
import sys

import httpx

PROBE = """
import json, sys
from api.main import create_app
app = create_app()
print(json.dumps({
    "paths": sorted(app.openapi()["paths"]),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "paddle", "paddleocr", "transformers")
                      or m.startswith(("api.domains.", "workers"))),
}))
"""


def _probe(domain: str) -> dict:
    env = {**os.environ, "DOMAIN": domain}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_ocr_api_serves_base_and_ocr_routes_only_and_imports_no_model_library():
    probe = _probe("ocr")
    assert "/v1/ocr/recognize" in probe["paths"] and "/v1/jobs/{job_id}" in probe["paths"]
    assert all(
        p.startswith(("/v1/ocr/", "/v1/jobs", "/v1/domains", "/v1/keys", "/healthz", "/readyz")) for p in probe["paths"]
    )
    loaded = probe["modules"]
    assert not [m for m in loaded if m.split(".")[0] in ("torch", "paddle", "paddleocr", "transformers", "workers")]
    assert {m.split(".")[2] for m in loaded if m.startswith("api.domains.")} == {"base", "ocr"}


def test_an_unknown_domain_stops_the_api_with_the_valid_names(redis_stack):
    env = {**os.environ, "DOMAIN": "vision", "REDIS_URL": redis_stack.redis_url}
    done = subprocess.run([sys.executable, "-m", "api"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "unknown domain(s) vision" in done.stderr and "valid:" in done.stderr


def test_a_running_ocr_api_answers_404_for_other_domains(isolated_stack):
    base = isolated_stack.start_api(domain="ocr")
    with httpx.Client(base_url=base, headers=isolated_stack.auth_headers) as client:
        assert client.post("/v1/llm/generate", json={"prompt": "hi"}).status_code == 404
        assert [d["name"] for d in client.get("/v1/domains").json()["domains"]] == ["ocr"]
