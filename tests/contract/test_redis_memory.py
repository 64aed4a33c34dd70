"""Redis holds records and messages, not inputs: a queue full of large images costs Redis a few
KiB a job, inline inputs stop at their budget, and a Redis near maxmemory refuses submits while
the jobs it accepted still finish. Each test runs its own Redis with a small maxmemory."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import redis

from common import keys
from devtools.images import noise_png
from devtools.localstack import LocalStack
from tests.builders import submit_image, text_image, wait_for_job

NO_QUOTAS = {"DEFAULT_RATE_LIMIT_PER_MINUTE": "0", "DEFAULT_MAX_JOBS_IN_FLIGHT": "0"}


def _used(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def test_a_queue_full_of_large_images_costs_redis_under_4_kib_a_job(tmp_path):
    cap = 500
    image = noise_png(320, seed=1)  # ~300 KB: over the 256 KiB inline threshold
    assert len(image) > 256 * 1024
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=False, maxmemory="32mb")
        api = stack.start_api(domain="ocr", env={**NO_QUOTAS, "MAX_QUEUE_DEPTH_BY_DOMAIN": f'{{"ocr": {cap}}}'})
        r = redis.Redis.from_url(stack.redis_url)
        with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
            submit_image(client, image)  # the first submit's one-off writes (key, domains) not counted
            before = _used(r)
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: submit_image(client, image).status_code, range(cap - 1)))
            assert answers == [202] * (cap - 1)
            full = submit_image(client, image)
            assert full.status_code == 503 and full.json()["error"]["code"] == "queue_full"
            per_job = (_used(r) - before) / (cap - 1)
            assert client.get("/readyz").json()["status"] == "ready"
        info = r.info("memory")
    # The 150 MB of images are in the blob store; Redis holds each job's record and message.
    assert per_job < 4 * 1024, per_job
    assert info["used_memory"] < info["maxmemory"] / 2, info["used_memory"]
    print(f"Redis memory per queued OCR job, inputs in the store: {per_job:.0f} bytes")


def test_inline_inputs_stop_at_their_budget_and_the_rest_go_to_the_store(tmp_path):
    image = noise_png(150, seed=2)  # ~68 KB: under the inline threshold
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=False)
        api = stack.start_api(domain="ocr", env={**NO_QUOTAS, "REDIS_INLINE_BUDGET_BYTES": str(5 * len(image))})
        r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
            ids = [submit_image(client, image).json()["id"] for _ in range(8)]
            where = ["inline" if r.hget(keys.job(job_id), "blobs") else "stored" for job_id in ids]
            assert where == ["inline"] * 5 + ["stored"] * 3
            assert int(r.get(keys.INLINE_BYTES)) == 5 * len(image)
            assert client.delete(f"/v1/jobs/{ids[0]}").status_code == 200  # an end gives its bytes back
            assert int(r.get(keys.INLINE_BYTES)) == 4 * len(image)
            later = submit_image(client, image).json()["id"]
            assert r.hget(keys.job(later), "blobs") == "image"


def test_a_redis_near_maxmemory_refuses_submits_and_its_jobs_still_finish(tmp_path):
    # Uncompressed images held inline in Redis (a large threshold and budget) fill it fast.
    page = text_image(["Still finishes"], fmt="BMP", size=(700, 160))
    env = {**NO_QUOTAS, "BLOB_INLINE_MAX_BYTES": str(1 << 20), "REDIS_INLINE_BUDGET_BYTES": "0"}
    with LocalStack(tmp_path) as stack:
        stack.start_redis(persist=False, maxmemory="12mb")
        stack.env.update(env)
        api = stack.start_api(domain="ocr")
        stack.start_worker("ocr")
        with httpx.Client(base_url=api, timeout=60, headers=stack.auth_headers) as client:
            accepted = []
            for _ in range(200):
                answer = submit_image(client, page, "page.bmp")
                if answer.status_code == 503:
                    assert answer.json()["error"]["code"] == "redis_full", answer.text
                    assert int(answer.headers["retry-after"]) >= 1
                    break
                assert answer.status_code == 202, answer.text
                accepted.append(answer.json()["id"])
            else:
                raise AssertionError("200 submits of 336 KB each never filled a 12 MB Redis")
            # Past the watermark, what was accepted still runs and records its result.
            jobs = [wait_for_job(client, job_id, timeout=180) for job_id in accepted]
        assert {j["status"] for j in jobs} == {"succeeded"}, {j["status"] for j in jobs}
        assert all(j["result"]["text"] == "Still finishes" for j in jobs)
