"""The pump: a thread in the hooks worker's main process that hands due deliveries to
``hooks.deliver`` tasks on the ``hooks`` queue.

Every hooks worker runs one; claiming is one script (``schedule.claim``), so any number of
them can run together: each due delivery is taken by one. A crash between the claim and the
message only delays that delivery until its claim runs out.
"""

import logging
import threading

import redis
from celery import Celery

from common.jobstore import JobStore
from workers.domains.hooks import schedule
from workers.domains.hooks.config import HooksSettings

log = logging.getLogger(__name__)

DELIVER = "hooks.deliver"
QUEUE = "hooks"
# Deliveries taken in one turn at most; after a full turn the pump goes again at once.
TURN_MAX = 200


class Pump:
    def __init__(self, store: JobStore, app: Celery, settings: HooksSettings) -> None:
        self.store, self.app, self.settings = store, app, settings
        self._stop = threading.Event()

    def turn(self) -> int:
        """Claim what is due (as the queue has room) and send a task for each; how many."""
        s = self.settings
        claimed = self.store.run(schedule.claim(QUEUE, s.claim_timeout_s, TURN_MAX, s.queue_max))
        for webhook_id, token in claimed:
            self.app.send_task(DELIVER, [webhook_id, token], queue=QUEUE)
        return len(claimed)

    def run(self) -> None:
        delay = self.settings.poll_interval_s
        while not self._stop.is_set():
            try:
                taken = self.turn()
                delay = self.settings.poll_interval_s
            except (redis.RedisError, OSError) as exc:  # kombu's errors included: Redis away
                log.warning("webhook pump: %s; trying again in %.1fs", exc, delay)
                taken, delay = 0, min(delay * 2, 10)
            if taken < TURN_MAX:
                self._stop.wait(delay)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="webhook-pump", daemon=True)
        thread.start()
        log.info("webhook pump started (every %.2fs)", self.settings.poll_interval_s)
        return thread

    def stop(self) -> None:
        self._stop.set()
