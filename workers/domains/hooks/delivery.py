"""One attempt at one delivery, end to end: what ``hooks.deliver`` runs.

The body is ``{"type", "timestamp", "data"}``: the event's type and time, and the job as
``GET /v1/jobs/{id}`` showed it when the event happened. A result in the blob store
(``common.results``) is read from there into the body as it is sent; a late retry whose job's
record (and so its result) has expired meanwhile carries ``result: null`` and
``result_omitted: true``, and an attempt while the store is unreachable fails and is retried.
The headers follow the Standard Webhooks spec (``webhook-id``, the same on every retry;
``webhook-timestamp``, this attempt's; ``webhook-signature``, with the secret of the key that
submitted the job, and for a while after a rotation with the one it replaced). A 2xx answer
delivers it; anything else is retried with backoff (``schedule.retry_delay_s``) until
``max_attempts`` or the horizon. The job's own status never depends on its webhook.
"""

import json
import logging
import random
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import Counter

from common import results, webhook_secrets
from common.apikeys import ANONYMOUS_ID
from common.blobs import BlobError, BlobNotFound, BlobStore, open_blob_store
from common.config import CoreSettings
from common.jobstore import JobStore
from common.records import JobRecord
from workers.core.lazy import Lazy
from workers.domains.hooks import schedule, sender
from workers.domains.hooks.config import HooksSettings

log = logging.getLogger(__name__)

USER_AGENT = "domainq-webhooks/1"


@lru_cache
def _attempts() -> Any:
    # Created on first use, after the worker turned prometheus_client's multiprocess mode on.
    return Counter(
        "dq_webhook_attempts_total",
        "Webhook delivery attempts, by outcome: delivered, retry (failed, tried again later) or dropped.",
        ["outcome"],
        registry=None,
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def body(begun: schedule.Begun, record: JobRecord, stored: bytes | None = None) -> bytes:
    """The JSON a delivery POSTs; ``stored``: the job's result, read from the blob store."""
    view = record.view()
    event: dict[str, Any] = {"type": begun.type, "timestamp": _iso(begun.created_ms)}
    if stored is None:
        return json.dumps({**event, "data": view.model_dump(mode="json")}, separators=(",", ":")).encode()
    head, tail = results.around({**event, "data": results.job_document(view)})
    return head + stored + tail


class Deliverer:
    def __init__(self, store: JobStore, core: CoreSettings, settings: HooksSettings) -> None:
        self.store, self.core, self.settings = store, core, settings
        self._rng = random.Random()
        self.blobs: Lazy[BlobStore] = Lazy(lambda: open_blob_store(core))

    def _stored_result(self, record: JobRecord) -> bytes | None:
        """The job's result from the blob store; ``None``: it has none there, or it expired with its record."""
        if record.result_ref is None:
            return None
        try:
            return self.blobs.get().get_sync(record.result_ref.key)
        except BlobNotFound:
            return None

    def deliver(self, webhook_id: str, token: str) -> str:
        """Make one attempt at the delivery, if this hand-over of it is still current; answers
        the outcome (delivered, retry, dropped; stale: not ours any more)."""
        s = self.settings
        begun = self.store.run(schedule.begin(webhook_id, token, s.claim_timeout_s))
        if begun is None:
            log.debug("webhook delivery already handed over again or gone", extra={"webhook_id": webhook_id})
            return "stale"
        started = time.monotonic()
        record = JobRecord.from_hash(json.loads(begun.snapshot))
        if record is None:  # a delivery is only ever made for a job: cannot happen
            raise ValueError(f"webhook delivery {webhook_id} carries no job")
        secret = self.store.run(webhook_secrets.get(record.owner or ANONYMOUS_ID))
        if secret is None:
            answer = sender.Answer(False, "not sent: the key that submitted the job was revoked")
        elif record.webhook is None:
            answer = sender.Answer(False, "not sent: the job has no webhook")
        else:
            try:
                payload = body(begun, record, self._stored_result(record))
            except BlobError as exc:
                answer = sender.Answer(False, f"not sent: its result is in the blob store, unreachable ({exc})")
            else:
                answer = self._send(webhook_id, record.webhook, secret.signing, payload)
        outcome, next_ms = "delivered", 0
        if not answer.ok:
            outcome = "dropped"
            delay_s = schedule.retry_delay_s(begun.attempt, s.retry_base_s, s.retry_max_delay_s, self._rng)
            next_ms = begun.now_ms + int((time.monotonic() - started + delay_s) * 1000)
            last_chance = secret is None or record.webhook is None or begun.attempt >= s.max_attempts
            if not last_chance and next_ms - begun.created_ms <= s.retry_horizon_s * 1000:
                outcome = "retry"
        next_iso = _iso(next_ms) if outcome == "retry" else ""
        self.store.run(schedule.done(webhook_id, record.id, token, outcome, answer.status, next_ms, next_iso))
        _attempts().labels(outcome).inc()
        extra = {
            "webhook_id": webhook_id, "job_id": record.id, "key_id": record.owner, "attempt": begun.attempt,
            "status": answer.status, "outcome": outcome, "next_attempt_at": next_iso or None,
        }  # fmt: skip
        if outcome == "delivered":
            log.info("webhook delivered", extra=extra)
        else:
            log.warning("webhook attempt failed", extra=extra)
        return outcome

    def _send(self, webhook_id: str, url: str, signing: list[str], payload: bytes) -> sender.Answer:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": webhook_secrets.sign(signing, webhook_id, timestamp, payload),
        }
        log.debug("webhook attempt", extra={"webhook_id": webhook_id, "host": urlsplit(url).hostname})
        return sender.post(url, payload, headers, self.settings.timeout_s, self.core.webhook_allow_private)
