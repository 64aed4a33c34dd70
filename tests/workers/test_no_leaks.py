"""After a mixed run (succeeded, failed, canceled, a worker killed mid-job), Redis holds the
job records and nothing else of them: no blobs, no live-set members, no unacked messages; and
the blob store holds nothing (the run's images are over the inline threshold: they went there)."""

import signal

import httpx
import redis

from common import keys
from common.blobs import open_blob_store
from common.blobs.keys import JOBS
from common.config import CoreSettings
from tests.builders import enqueue_direct, submit_image, text_image, wait_for_job, wait_for_status, wait_until

# What may stay: records and their event streams (they expire JOB_TTL_S after their end),
# keys, their state and webhook secrets, the reconciler's lock and domain list, the metrics
# claims, the listing indexes and recent run times (both trimmed), kombu's own bindings.
ALLOWED = (
    "dq:job:", "dq:apikey", "dq:rate:", "dq:whsec:", "dq:domains", "dq:reconciler", "dq:metered:", "dq:jobs:",
    "dq:runtimes:", "_kombu.binding",
    "dq:workers:",  # the registry of workers online: the living ones (a shut-down one leaves it)
    "dq:fair:",  # fair share's settings, clocks and keys' last tags (expiring); its queues: below
    "dq:inline:bytes",  # the bytes of inline inputs Redis holds: 0 once every job ended (below)
)  # fmt: skip


def test_a_mixed_run_leaves_nothing_but_the_records(isolated_stack, job_store):
    isolated_stack.env.update(
        {"JOB_LEASE_S": "5", "RECONCILE_INTERVAL_S": "0.5", "JOB_TTL_S": "3600", "BLOB_INLINE_MAX_BYTES": "1000"}
    )
    api = isolated_stack.start_api(domain="ocr")
    first = isolated_stack.start_worker("ocr")
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        ok = submit_image(client, text_image(["Fine"])).json()["id"]
        bad = enqueue_direct(job_store.__class__.from_url(isolated_stack.redis_url), isolated_stack.redis_url, "ocr",
                             "recognize", blobs={"image": b"not an image"})  # fmt: skip
        assert wait_for_job(client, ok)["status"] == "succeeded"
        assert wait_for_job(client, bad)["status"] == "failed"

        first.signal(signal.SIGSTOP)  # hold the queue still: a job to cancel, a job to kill
        canceled = submit_image(client, text_image(["Never"])).json()["id"]
        assert client.delete(f"/v1/jobs/{canceled}").status_code == 200
        first.signal(signal.SIGCONT)
        lines = [f"Line {i} of a page whose worker is killed" for i in range(30)]
        killed = submit_image(client, text_image(lines)).json()["id"]
        wait_for_status(client, killed, "running")
        first.signal(signal.SIGKILL)
        first.popen.wait(10)
        isolated_stack.start_worker("ocr")
        assert wait_for_job(client, killed, timeout=120)["status"] == "succeeded"
        assert wait_for_job(client, canceled)["status"] == "canceled"

    store = open_blob_store(CoreSettings(blob_store_url=isolated_stack.blob_env["BLOB_STORE_URL"]))
    assert r.hget(keys.job(killed), "stored") == "image"  # it went through the store
    wait_until(lambda: not list(store.list_sync(JOBS)), 30, "the blob store emptied of ended jobs' inputs")
    left = sorted(k for k in r.scan_iter("*") if not k.startswith(ALLOWED) and r.type(k) != "none")
    empty_queue = ["ocr"] if r.llen("ocr") == 0 else []
    assert [k for k in left if k not in empty_queue] == [], left
    assert all(":blob:" not in k for k in r.scan_iter("dq:job:*"))
    assert r.hlen(keys.UNACKED) == 0 and r.zcard(keys.LEASES) == 0 and r.zcard(keys.queued("ocr")) == 0
    assert r.zcard(keys.DEADLINES) == 0
    assert int(r.get(keys.INLINE_BYTES) or 0) == 0  # each end gave its inline bytes back
    assert r.zcard(keys.fair_queue("ocr", "interactive")) == r.zcard(keys.fair_queue("ocr", "batch")) == 0
    assert all(r.ttl(k) > 0 for k in r.scan_iter("dq:fair:ocr:*"))  # the clocks and tags expire
    for name in r.scan_iter("dq:job:*"):  # each event stream expires with its record
        assert r.ttl(name) > 0, name
    for job_id in (ok, bad, canceled, killed):
        assert 0 < r.ttl(keys.job(job_id)) <= 3600
