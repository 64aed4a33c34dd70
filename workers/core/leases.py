"""The runs this process holds, and the heartbeat that renews their leases.

A run's lease (``common.lifecycle.start``) lasts ``JOB_LEASE_S``; a daemon thread renews every
lease this process holds every third of that. If the process dies, the heartbeat stops, the
lease runs out and the reconciler publishes the job again. Per process: a prefork pool
process starts its own thread on its first job (threads do not survive a fork).
"""

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from common import lifecycle
from common.jobstore import JobStore

log = logging.getLogger(__name__)


class Leases:
    def __init__(self, store: JobStore, lease_s: float) -> None:
        self.store, self.lease_s = store, lease_s
        self._runs: dict[str, int] = {}
        self._lock = threading.Lock()
        self._pid = 0  # the process whose heartbeat thread runs

    @contextmanager
    def hold(self, job_id: str, attempt: int) -> Iterator[None]:
        """Keep the run's lease alive while the block runs."""
        self._ensure_heartbeat()
        with self._lock:
            self._runs[job_id] = attempt
        try:
            yield
        finally:
            with self._lock:
                self._runs.pop(job_id, None)

    def release(self) -> None:
        """End the leases of every run held here now (this process is about to exit): the
        reconciler runs those jobs again at its next pass instead of a lease later."""
        with self._lock:
            runs = list(self._runs.items())
            self._runs.clear()  # and the heartbeat renews them no more
        if runs:
            self.store.run(lifecycle.renew(runs, 0))
            log.warning("released the leases of %d held job(s)", len(runs))

    def _ensure_heartbeat(self) -> None:
        if self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        while True:
            time.sleep(self.lease_s / 3)
            with self._lock:
                runs = list(self._runs.items())
            if not runs:
                continue
            try:
                self.store.run(lifecycle.renew(runs, self.lease_s))
            except redis.RedisError as exc:  # away for a moment: the next beat tries again
                log.warning("lease heartbeat failed: %s", type(exc).__name__)
