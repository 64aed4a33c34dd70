"""Payload builders: images with known text (from devtools.images), job helpers, and
``wait_until``."""

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from common import lifecycle
from common.celery_app import make_celery
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.contracts.naming import queue_for, task_name
from common.enqueue import TaskMessages
from common.fair import Priority
from common.jobstore import JobStore
from common.records import JobRecord

# The one copy is devtools' (its screenshot renders pages too): the tests take it from here.
from devtools.images import text_image as text_image

T = TypeVar("T")

# A domain no worker serves: a job sent there stays queued (its message waits in its queue,
# so the reconciler leaves it alone).
UNSERVED = "unserved"
# Jobs submitted around the API belong to no API key: only admin keys see them.
DIRECT_OWNER = "key_direct_test"
NO_LIMITS = lifecycle.Admission(
    owner=DIRECT_OWNER, key_hash=None, rate_limit_per_minute=0, max_jobs_in_flight=0, max_queue_depth=0
)


def wait_until(
    predicate: Callable[[], T], timeout: float, what: str | Callable[[], str] = "the condition", interval: float = 0.02
) -> T:
    """Call ``predicate`` until it answers something truthy, and return that answer; past
    ``timeout`` seconds fail the test naming ``what`` (a text, or a function that says what
    was seen) and the last answer. The one way the tests wait for something to happen: on a
    condition, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"{said}: not reached after {timeout}s (last answer: {answer!r})")
        time.sleep(interval)


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 90) -> dict:
    """Long-poll a job until it finishes; fails the test past ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"/v1/jobs/{job_id}", params={"wait": 20})
        if answer.status_code == 503:  # Redis away for a moment: as a client would, wait and ask again
            time.sleep(0.5)
            continue
        job = answer.json()
        if JobStatus(job["status"]).finished:
            return job
    raise AssertionError(f"job {job_id} not finished after {timeout}s")


def submit(client: httpx.Client, path: str, body: dict, headers: dict[str, str] | None = None) -> str:
    """POST a job as JSON; its id, once the API answered 202."""
    answer = client.post(path, json=body, headers=headers or {})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def new_key(admin: httpx.Client, name: str, **fields: object) -> dict:
    """A new API key's record, its secret (``key``) included, made with an admin client."""
    answer = admin.post("/v1/keys", json={"name": name, **fields})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def as_key(base_url: str | httpx.URL, secret: str) -> httpx.Client:
    """A client of the API that sends ``secret`` as its key (close it, or use ``with``)."""
    return httpx.Client(base_url=base_url, timeout=60, headers={"Authorization": f"Bearer {secret}"})


def wait_for_status(client: httpx.Client, job_id: str, status: str, timeout: float = 30) -> dict:
    """Poll a job until it has ``status`` (e.g. ``running``); its view then. A job short enough
    to pass through ``running`` between two polls is never seen there: ``wait_for_start``."""
    return wait_until(
        lambda: (job := client.get(f"/v1/jobs/{job_id}").json())["status"] == status and job,
        timeout,
        f"job {job_id} {status}",
        interval=0.01,
    )


def wait_for_start(client: httpx.Client, job_id: str, timeout: float = 30) -> dict:
    """Poll a job until it has started (running, or already finished: a short job can do both
    between two polls); its view then, with ``started_at``."""
    return wait_until(
        lambda: (job := client.get(f"/v1/jobs/{job_id}").json())["started_at"] is not None and job,
        timeout,
        f"job {job_id} started",
        interval=0.01,
    )


def submit_image(client: httpx.Client, data: bytes, name: str = "page.png") -> httpx.Response:
    return client.post("/v1/ocr/recognize", files={"file": (name, data)})


@functools.cache
def _messages(redis_url: str) -> TaskMessages:
    return TaskMessages(make_celery(CoreSettings(redis_url=redis_url)))


def enqueue_direct(
    store: JobStore,
    redis_url: str,
    domain: str,
    verb: str,
    params: dict | None = None,
    blobs: dict[str, bytes] | None = None,
    owner: str = DIRECT_OWNER,
    priority: Priority = Priority.interactive,
) -> str:
    """Submit a job the way the API does, minus its input checks (e.g. a garbage image), as
    ``owner`` (a key id: its jobs share the fair order with that key's) with no limits."""
    blobs = blobs or {}
    record = JobRecord.new(domain, verb, owner=owner, params=params or {}, blobs=tuple(blobs))
    name = task_name(domain, verb)
    queue = queue_for(name)
    message = _messages(redis_url).build(name, record.id, [record.id, params or {}], queue)
    record.delivery_tag = message.delivery_tag
    admission = dataclasses.replace(NO_LIMITS, owner=owner)
    extras = lifecycle.Extras(priority=priority)
    status, _ = store.run(lifecycle.submit(record, blobs, message.body, 600, admission, extras))
    assert status == "queued", status
    return record.id
