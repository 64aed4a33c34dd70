"""A headless Chromium (Debian's chromium and chromium-driver, driven by selenium), and Flower."""

import base64
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from devtools.localstack import free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
# No network traffic of the browser's own: it would only time out on these machines.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


@pytest.fixture(scope="session")
def browser():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        # A failure, not a skip: a skipped browser test would pass for a feature never checked.
        pytest.fail(f"no {CHROMIUM} or {CHROMEDRIVER}: run scripts/install-browser.sh (scripts/test.sh does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="domainq-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # with the driver's path too, selenium downloads nothing
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshot(tmp_path, browser):
    """Save the browser's view as ``name``: under docs/img with SAVE_SCREENSHOTS=1, else in tmp."""
    folder = IMAGES if os.environ.get("SAVE_SCREENSHOTS") == "1" else tmp_path

    def save(name: str, height: int = 900) -> Path:
        browser.set_window_size(1280, height)
        folder.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(folder / name))
        return folder / name

    return save


@pytest.fixture(scope="module")
def flower(redis_stack):
    """Flower on the suite's broker behind basic auth: (base URL, user, password)."""
    user, password = "admin", secrets.token_urlsafe(12)
    port = free_port()
    url = redis_stack.start_flower(port, basic_auth=f"{user}:{password}")
    yield url, user, password
    proc = next(p for p in redis_stack.procs if p.name == f"flower-{port}")
    proc.stop()
    redis_stack.procs.remove(proc)


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
