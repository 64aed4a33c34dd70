"""Check that a webhook delivery came from your domainq server, as the Standard Webhooks spec
says (https://www.standardwebhooks.com/), with the standard library only::

    from domainq_client.webhooks import WebhookVerificationError, verify

    secret = client.keys.webhook_secret()["webhook_secret"]  # once; keep it in your settings

    def handle(request):  # any framework: the raw body bytes and the headers
        try:
            event = verify(request.body, request.headers, secret)
        except WebhookVerificationError:
            return 400
        if seen(event.id): return 200                  # a retry of one you already handled
        job = event.data                                 # the job as GET /v1/jobs/{id} showed it
        ...

``secret`` may be several secrets (while you move to a rotated one): a delivery signed by any of
them passes. A delivery also carries the secret a rotation replaced, for a while
(``keep_previous_s``), so a receiver still holding the old secret keeps accepting deliveries.
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domainq_client._errors import DomainqError

PREFIX = "whsec_"
# How far a delivery's timestamp may be from now: an older one is taken for a replay.
TOLERANCE_S = 300


class WebhookVerificationError(DomainqError):
    """The delivery is not one this secret signed, or not a fresh one: refuse it (answer 4xx)."""


@dataclass(frozen=True)
class WebhookEvent:
    id: str  # webhook-id: the same on every retry of one delivery, to drop what you have seen
    type: str  # job.started, job.progress or job.completed
    timestamp: str  # when the change happened (ISO 8601)
    data: dict[str, Any]  # the job as GET /v1/jobs/{id} showed it then


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is 'whsec_' and base64, as the API gives it") from exc


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise WebhookVerificationError(f"the {name} header is missing")
    return value


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Iterable[str],
    *,
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> WebhookEvent:
    """The delivery's event, once its signature and timestamp check out; else
    ``WebhookVerificationError`` saying why. ``body``: the request's raw body, before any JSON
    parsing (a re-encoded body no longer matches); ``headers``: the request's, any case."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("no secret to verify with")
    payload = body.encode() if isinstance(body, str) else bytes(body)
    headers = {k.lower(): v for k, v in headers.items()}  # frameworks differ in case
    webhook_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature").split()
    try:
        sent_at = int(stamp)
    except ValueError:
        raise WebhookVerificationError(f"webhook-timestamp {stamp!r} is not unix seconds") from None
    now = time.time() if now is None else now
    if abs(now - sent_at) > tolerance_s:
        raise WebhookVerificationError(f"webhook-timestamp is {now - sent_at:.0f} s from now: too old, or a replay")
    signed = f"{webhook_id}.{sent_at}.".encode() + payload
    expected = [base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode() for s in secrets]
    offered = [sig.removeprefix("v1,") for sig in signatures if sig.startswith("v1,")]
    # Every pair compared, no early exit: the time taken says nothing about which one matched.
    if not any([hmac.compare_digest(e, o) for e in expected for o in offered]):
        raise WebhookVerificationError("no webhook-signature matches this secret")
    try:
        event = json.loads(payload)
        return WebhookEvent(webhook_id, event["type"], event["timestamp"], event["data"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookVerificationError(f"the signed body is not a domainq event: {exc}") from None
