"""``GET /v1/jobs`` and where a queued job stands: real API, Redis and workers."""

from datetime import datetime

import httpx
import redis

from common import keys
from tests.builders import as_key, new_key, submit, submit_image, text_image, wait_for_job, wait_until

EMBED = {"texts": ["listing"]}


def _pages(client: httpx.Client, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        answer = client.get("/v1/jobs", params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body["jobs"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_listing_pages_newest_first_isolated_by_key_and_stable_while_jobs_arrive(isolated_stack):
    api = isolated_stack.start_api(domain="llm")
    admin = httpx.Client(base_url=api, timeout=30, headers=isolated_stack.auth_headers)
    with (
        admin,
        as_key(admin.base_url, new_key(admin, "alice")["key"]) as alice,
        as_key(admin.base_url, new_key(admin, "bob")["key"]) as bob,
    ):
        mine = [submit(alice, "/v1/llm/embed", EMBED) for _ in range(5)]
        theirs = [submit(bob, "/v1/llm/embed", EMBED) for _ in range(2)]

        first = alice.get("/v1/jobs", params={"limit": 2}).json()
        assert [j["id"] for j in first["jobs"]] == mine[::-1][:2] and first["next_cursor"]
        arrived = [submit(alice, "/v1/llm/embed", EMBED) for _ in range(3)]  # newer: they must not shift the pages
        rest, cursor = [], first["next_cursor"]
        while cursor:
            page = alice.get("/v1/jobs", params={"limit": 2, "cursor": cursor}).json()
            rest += [j["id"] for j in page["jobs"]]
            cursor = page["next_cursor"]
        assert rest == mine[::-1][2:]

        everything = [j["id"] for page in _pages(alice, limit=3) for j in page]
        assert everything == (mine + arrived)[::-1]
        created = [datetime.fromisoformat(j["created_at"]) for page in _pages(alice) for j in page]
        assert created == sorted(created, reverse=True)
        assert [j["id"] for page in _pages(bob) for j in page] == theirs[::-1]
        all_ids = {j["id"] for page in _pages(admin, limit=100) for j in page}
        assert set(mine + arrived + theirs) <= all_ids  # an admin key sees every job

        assert alice.delete(f"/v1/jobs/{mine[0]}").status_code == 200
        canceled = [j["id"] for page in _pages(alice, status="canceled") for j in page]
        assert canceled == [mine[0]]
        assert [j for page in _pages(alice, domain="ocr") for j in page] == []

        for bad in ({"limit": 0}, {"limit": 101}, {"status": "sleeping"}, {"cursor": "not-a-cursor"}):
            answer = alice.get("/v1/jobs", params=bad)
            assert answer.status_code == 422, (bad, answer.text)
            assert answer.json()["error"]["code"] in ("invalid_request", "invalid_cursor")


def test_queued_jobs_know_their_position_and_it_only_goes_down(isolated_stack):
    api = isolated_stack.start_api(domain="ocr")
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    # Lines enough that each job takes a while, so the waiting ones are seen moving up.
    image = text_image([f"Line {i}: where am I in the queue" for i in range(24)])
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
        ids = [submit_image(client, image).json()["id"] for _ in range(5)]  # no worker yet
        views = [client.get(f"/v1/jobs/{job_id}").json() for job_id in ids]
        assert [v["queue_position"] for v in views] == [0, 1, 2, 3, 4]
        assert all(v["eta_s"] is None for v in views)  # no worker online, no run time yet
        domains = {d["name"]: d for d in client.get("/v1/domains").json()["domains"]}
        assert domains["ocr"]["p50_run_s"] is None and domains["ocr"]["estimated_wait_s"] is None

        isolated_stack.start_worker("ocr", env={"WORKER_CONCURRENCY": "1"})
        seen = {v["id"]: [(v["queue_position"], v["eta_s"])] for v in views}

        def all_ran() -> bool:
            views = [client.get(f"/v1/jobs/{job_id}").json() for job_id in ids]
            for view in views:
                if view["status"] == "queued":
                    seen[view["id"]].append((view["queue_position"], view["eta_s"]))
                else:
                    assert view["queue_position"] is None and view["eta_s"] is None
            return all(v["status"] == "succeeded" for v in views)

        wait_until(all_ran, 180, "all five jobs run", interval=0.05)
        for job_id in ids:
            assert wait_for_job(client, job_id)["status"] == "succeeded"
        for job_id, history in seen.items():
            positions = [p for p, _ in history]
            assert positions == sorted(positions, reverse=True), (job_id, positions)
            etas = [e for _, e in history if e is not None]
            assert etas == sorted(etas, reverse=True), (job_id, etas)
        last = seen[ids[-1]]
        # It moved up the queue as the others ran: seen at 4, then nearer the front. (Not at a
        # given place: a poll of the five takes long enough on a busy machine to miss one.)
        assert last[0][0] == 4 and min(p for p, _ in last) < 4, last
        assert any(e is not None for _, e in last)  # once a job had run, with a worker online
        assert r.llen(keys.runtimes("ocr")) == 5
        domains = {d["name"]: d for d in client.get("/v1/domains").json()["domains"]}
        assert domains["ocr"]["p50_run_s"] > 0 and domains["ocr"]["estimated_wait_s"] == 0
