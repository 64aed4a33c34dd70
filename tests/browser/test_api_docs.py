"""The API's /docs page in a real browser: Swagger UI served offline, the enabled domains only."""

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import api.domains
from common.discovery import BASE, available_domains

PATHS = "return Array.from(document.querySelectorAll('.opblock-summary-path')).map(e => e.dataset.path)"
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name)"


def _rendered_paths(browser, base: str) -> list[str]:
    browser.get(f"{base}/docs")
    # Swagger UI builds the page from /openapi.json in the browser: wait for the operations.
    return WebDriverWait(browser, 30).until(lambda b: b.execute_script(PATHS) or None)


def test_docs_of_an_ocr_api_list_ocr_endpoints_and_no_other_domain(isolated_stack, browser):
    base = isolated_stack.start_api(domain="ocr")
    paths = _rendered_paths(browser, base)

    assert "/v1/ocr/recognize" in paths and "/v1/jobs/{job_id}" in paths
    others = [d for d in available_domains(api.domains) if d not in (BASE, "ocr")]
    assert not [p for p in paths if p.startswith(tuple(f"/v1/{d}/" for d in others))], paths
    assert set(paths) == set(httpx.get(f"{base}/openapi.json").json()["paths"])
    # Every file the page loaded came from the API itself (no CDN: the page works offline).
    assert all(url.startswith(base) for url in browser.execute_script(RESOURCES))
    assert browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title")


def test_docs_of_an_api_serving_every_domain_list_each_domain(isolated_stack, browser, screenshot):
    base = isolated_stack.start_api(domain="all")
    paths = _rendered_paths(browser, base)

    for name in available_domains(api.domains):
        if name != BASE:
            assert any(p.startswith(f"/v1/{name}/") for p in paths), (name, paths)
    screenshot("api-docs.png", height=1000)
