"""The worker's heartbeat into the registry of workers online (``common.presence``).

A thread in the worker's main process (which outlives its pool processes) says every
``WORKER_HEARTBEAT_S`` that this node serves its domain with ``slots`` jobs at once; at
shutdown the node leaves the registry at once.
"""

import logging
import threading

import redis

from common import presence
from common.jobstore import sync_client
from common.scripts import SyncScripts

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, redis_url: str, domain: str, slots: int, interval_s: float) -> None:
        self.redis_url, self.domain, self.slots, self.interval_s = redis_url, domain, slots, interval_s
        self.node = ""
        self._stop = threading.Event()
        self._scripts: SyncScripts | None = None

    def start(self, node: str) -> threading.Thread:
        """Say this node is online now, and every interval from a thread of its own."""
        self.node = node
        self._scripts = SyncScripts(sync_client(self.redis_url))
        self._beat()
        thread = threading.Thread(target=self._run, name="presence-heartbeat", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Leave the registry (the worker is shutting down)."""
        self._stop.set()
        if self._scripts is not None:
            try:
                self._scripts.run(presence.gone(self.node))
            except redis.RedisError as exc:  # it ages out instead
                log.warning("could not leave the workers registry: %s", type(exc).__name__)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._beat()

    def _beat(self) -> None:
        assert self._scripts is not None
        try:
            self._scripts.run(presence.seen(self.node, self.domain, self.slots))
        except redis.RedisError as exc:  # away for a moment: the next beat tries again
            log.warning("presence heartbeat failed: %s", type(exc).__name__)
