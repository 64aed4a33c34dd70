"""Flower's dashboard in a real browser: behind basic auth, one worker per running domain."""

import httpx
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import basic_auth_header
from tests.builders import wait_until

ROWS = """return Array.from(document.querySelectorAll('#workers-table tbody tr'))
    .map(tr => Array.from(tr.cells).map(td => td.innerText.trim()))"""


def _wait_until_flower_sees(url: str, auth: tuple[str, str], nodes: set[str], timeout: float = 30) -> None:
    # Flower learns of workers from their heartbeats (every 2 s), after it starts.
    def online() -> set[str]:
        workers = httpx.get(f"{url}/workers", params={"json": 1}, auth=auth).json()["data"]
        return {w["hostname"] for w in workers if w["status"]}

    wait_until(lambda: nodes <= online(), timeout, lambda: f"flower sees {online()}, not all of {nodes}", interval=0.5)


def test_flower_refuses_requests_without_the_credentials(flower):
    url, user, password = flower
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=(user, "wrong")).status_code == 401
    assert httpx.get(f"{url}/api/workers", auth=(user, password)).status_code == 200


def test_flower_dashboard_lists_one_online_worker_per_running_domain(flower, browser, domain_workers, screenshot):
    url, user, password = flower
    assert domain_workers, "no worker fixture ran"
    nodes = {proc.node for proc in domain_workers.values()}
    _wait_until_flower_sees(url, (user, password), nodes)

    # The browser sends the credentials with every request, the page's own XHRs included.
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": basic_auth_header(user, password)}}
    )
    browser.get(url)
    rows = WebDriverWait(browser, 20).until(lambda b: [r for r in b.execute_script(ROWS) if len(r) > 1] or None)

    online = {name: status for name, status, *_ in rows if status == "Online"}
    assert set(online) == nodes, rows
    for domain, proc in domain_workers.items():
        assert [name for name in online if name.split("@")[0].split("-")[0] == domain] == [proc.node]
    screenshot("flower.png", height=760)
