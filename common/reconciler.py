"""The reconciler: finds accepted jobs no worker is going to finish and publishes them again.

Every API process and every worker runs one in a thread; a Redis lock (``dq:reconciler``)
lets one act at a time, and another takes over within seconds when that one dies. Each pass:

1. **Runs whose lease ran out** (``dq:leases``): their worker died (a heartbeat renews leases
   of living runs). Published again, or failed with ``WorkerLost`` once ``JOB_MAX_ATTEMPTS``
   runs were lost. Held back while Redis has been up for less than a lease, or this process
   just lost it: workers renew their leases once Redis is back, and must get the chance.
2. **Queued jobs whose message is gone** (``lifecycle.scan_queued``): taken from the queue by
   a worker that died before recording it in kombu's unacked hash ("lost"), or that died
   holding it unstarted ("stuck"). A job must look so in two passes before it is published
   again (a message in flight between the queue and the hash looks lost for microseconds).

3. **Jobs past their Cancel-After deadline** (``dq:deadlines``) end ``expired``: a queued one
   never runs (even with no worker of its domain online); a running one stops at its
   worker's next heartbeat or progress report.
4. **Blobs no live job owns** (``common.blob_sweeper``): the inputs of ended jobs, and what a
   crash left in the blob store.
5. **Fair dispatch** (``common.fair``): each domain's free worker slots are filled from its
   fair queues (submits, job ends and worker heartbeats do it too; this is the safety net),
   and the dispatch settings are written again (a Redis that lost its data gets them back).

A job published again can still meet its old message (a duplicate): ``start`` skips a job that
runs elsewhere under a live lease, and the requeue deletes the old message from kombu's
unacked hash so it does not come back.
"""

import json
import logging
import threading
import time
import uuid
from typing import Any

import redis

from common import fair, keys, lifecycle
from common.blob_sweeper import BlobSweeper
from common.blobs import BlobError
from common.config import CoreSettings
from common.contracts.naming import queue_for, queue_name, task_name
from common.enqueue import TaskMessages
from common.scripts import Call, SyncScripts, text

log = logging.getLogger(__name__)

_BATCH = 200


class Reconciler:
    def __init__(self, client: redis.Redis, messages: TaskMessages, settings: CoreSettings) -> None:
        self.client, self.messages, self.settings = client, messages, settings
        self.scripts = SyncScripts(client)
        self.blobs = BlobSweeper(client, settings)
        self.name = f"{uuid.uuid4().hex[:12]}"
        self._last_error = time.monotonic()  # as if Redis just came back: leases get a full term
        self._sightings: dict[str, tuple[str, float]] = {}  # id -> (reason, first seen)
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        try:  # this process's dispatch settings, at once (the leader writes them each pass too)
            self.scripts.run(fair.configure(self.settings))
        except redis.RedisError as exc:
            log.warning("dispatch settings not written yet: %s", type(exc).__name__)
        thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.reconcile_interval_s):
            try:
                if self._lead():
                    self.run_once()
            except redis.RedisError as exc:
                self._last_error = time.monotonic()
                log.warning("reconciler pass failed: %s", type(exc).__name__)
            except Exception:  # a bug must not end the thread: every job depends on it
                log.exception("reconciler pass failed")

    def _lead(self) -> bool:
        """Hold the lock (acquire or extend it); only its holder acts."""
        return self.scripts.run(lead(self.name, int(self.settings.reconcile_interval_s * 3000)))

    def run_once(self) -> dict[str, int]:
        """One pass; answers how many jobs each step published again or failed."""
        done = {"lease": 0, "lost": 0, "stuck": 0, "exhausted": 0}
        done["expired"] = len(self.scripts.run(lifecycle.expire_due(self.settings.job_ttl_s, _BATCH)))
        if self._settled():
            now_ms = _redis_now_ms(self.client)
            for job_id in self.client.zrangebyscore(keys.LEASES, "-inf", now_ms, start=0, num=_BATCH):
                self._count(done, "lease", self._requeue(text(job_id), "lease"))
        seen_now: set[str] = set()
        domains = sorted(text(d) for d in self.client.smembers(keys.DOMAINS))
        for domain in domains:
            queue = queue_name(domain)
            stuck_s = 2 * self.settings.job_lease_s
            call = lifecycle.scan_queued(domain, queue, 2 * self.settings.reconcile_interval_s, stuck_s, _BATCH)
            lost, stuck = self.scripts.run(call)
            for reason, ids, after_s in (("lost", lost, 0.0), ("stuck", stuck, stuck_s)):
                for job_id in ids:
                    seen_now.add(job_id)
                    first = self._sightings.setdefault(job_id, (reason, time.monotonic()))[1]
                    if time.monotonic() - first >= max(after_s, self.settings.reconcile_interval_s / 2):
                        self._count(done, reason, self._requeue(job_id, reason))
                        self._sightings.pop(job_id, None)
        self._sightings = {k: v for k, v in self._sightings.items() if k in seen_now}
        # The safety net of fair dispatch: settings a Redis restart lost come back, and each
        # domain's free slots are filled even if no submit, end or heartbeat did it.
        self.scripts.run(fair.configure(self.settings))
        try:
            done["blobs"] = self.blobs.run_once()
        except BlobError as exc:  # the store away: its objects wait, nothing else does
            log.warning("blob sweep failed: %s", type(exc).__name__)
        for domain in domains:
            done["dispatched"] = done.get("dispatched", 0) + self.scripts.run(fair.dispatch(domain))
        if any(v for k, v in done.items() if k not in ("expired", "dispatched", "blobs")):
            log.warning("reconciler: %s", ", ".join(f"{k} {v}" for k, v in done.items() if v))
        return done

    def _settled(self) -> bool:
        """Whether living workers have had a full lease to renew since Redis (re)started."""
        lease = self.settings.job_lease_s
        if time.monotonic() - self._last_error < lease:
            return False
        info: dict[str, Any] = self.client.info("server")
        return int(info.get("uptime_in_seconds", 0)) >= lease

    def _requeue(self, job_id: str, reason: str) -> str:
        fields = self.client.hmget(keys.job(job_id), ["domain", "task", "params"])
        domain, task, params = (None if v is None else text(v) for v in fields)
        if domain is None or task is None:
            self.client.zrem(keys.LEASES, job_id)  # the record expired
            return "skip"
        name = task_name(domain, task)
        queue = queue_for(name)
        args = [job_id, json.loads(params) if params else {}]
        message = self.messages.build(name, job_id, args, queue)
        s = self.settings
        call = lifecycle.requeue(
            job_id, reason, message.body, message.delivery_tag, queue, s.job_max_attempts, s.job_ttl_s
        )
        outcome = self.scripts.run(call)
        if outcome != "skip":
            log.warning("job %s: %s (%s)", job_id, outcome, reason, extra={"job_id": job_id, "domain": domain})
        return outcome

    @staticmethod
    def _count(done: dict[str, int], reason: str, outcome: str) -> None:
        if outcome == "requeued":
            done[reason] += 1
        elif outcome == "exhausted":
            done["exhausted"] += 1


def lead(name: str, ttl_ms: int) -> Call[bool]:
    """Take the reconciler's lock for ``name``, or extend it if ``name`` holds it (one script:
    a lock that runs out between a read and an extend is never extended for another)."""
    return Call("reconciler_lead", [keys.RECONCILER_LOCK], [name, ttl_ms], lambda answer: answer == 1)


def _redis_now_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000
