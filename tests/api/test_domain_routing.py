"""The seed's mechanism: DOMAIN decides which routers an API process loads."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import api.domains
from common.discovery import BASE, available_domains

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
        p.startswith(("/v1/ocr/", "/v1/jobs", "/v1/domains", "/v1/keys", "/v1/uploads", "/healthz", "/readyz"))
        for p in probe["paths"]
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


WIRING_PROBE = """
import json, sys
from api.main import create_app
app = create_app()
print(json.dumps({
    "routes": sorted(getattr(r, "path", "") for r in app.routes),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("api", "common", "workers")),
}))
"""


def _wiring(domain: str) -> dict:
    env = {**os.environ, "DOMAIN": domain}
    done = subprocess.run([sys.executable, "-c", WIRING_PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_ocr_api_has_no_llm_openai_routes_and_imports_nothing_of_the_llm_domain():
    wiring = _wiring("ocr")
    assert "/v1/ocr/recognize" in wiring["routes"]
    # OpenAI's Files and Batch APIs are the protocol's own, for every domain (OCR batches too).
    openai_routes = {r for r in wiring["routes"] if r.startswith("/openai/")}
    assert openai_routes == {
        "/openai/v1/files",
        "/openai/v1/files/{file_id}",
        "/openai/v1/files/{file_id}/content",
        "/openai/v1/batches",
        "/openai/v1/batches/{batch_id}",
        "/openai/v1/batches/{batch_id}/cancel",
    }
    assert not [m for m in wiring["modules"] if "llm" in m.split(".")]


@pytest.mark.parametrize("domain", ["llm", "all"])
def test_the_llm_domain_brings_its_openai_routes_through_discovery(domain):
    wiring = _wiring(domain)
    assert {"/openai/v1/models", "/openai/v1/chat/completions", "/openai/v1/embeddings"} <= set(wiring["routes"])
    assert "api.domains.llm.openai.router" in wiring["modules"]


def test_a_running_ocr_api_answers_404_under_openai(isolated_stack):
    base = isolated_stack.start_api(domain="ocr")
    with httpx.Client(base_url=base, headers=isolated_stack.auth_headers) as client:
        answer = client.get("/openai/v1/models")
    assert answer.status_code == 404, answer.text


def _domain_names(source: str, domains: set[str]) -> list[str]:
    """Where a module's code names a domain: an identifier, a string that is one (or has one as a
    path or dotted part, like ``/v1/llm/``), or an imported module path through one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = re.split(r"[/.]", node.value)
        elif isinstance(node, ast.Import):
            names = [part for alias in node.names for part in alias.name.split(".")]
        elif isinstance(node, ast.ImportFrom):
            names = (node.module or "").split(".") + [alias.name for alias in node.names]
        found += [f"line {node.lineno}: {name}" for name in names if name in domains]
    return found


CORE = Path(__file__).resolve().parents[2] / "api"


def test_no_core_api_file_names_a_domain():
    """Adding a domain touches no core file: the app factory and api/core find domains, never name them."""
    domains = set(available_domains(api.domains)) - {BASE}
    files = [CORE / "main.py", CORE / "__main__.py", *sorted((CORE / "core").glob("*.py"))]
    named = {str(f.relative_to(CORE.parent)): hits for f in files if (hits := _domain_names(f.read_text(), domains))}
    assert not named, named


def test_the_domain_check_finds_a_core_file_naming_a_domain():
    source = 'import api.domains.llm.router\nif "llm" in domains:\n    caps["/v1/llm/"] = 1\n'
    assert _domain_names(source, {"llm", "ocr"}) == ["line 1: llm", "line 2: llm", "line 3: llm"]
