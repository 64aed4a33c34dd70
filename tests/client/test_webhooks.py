"""The client's webhook check against the server's own signing (``common.webhook_secrets``),
and the webhook-secret routes through the SDK and the CLI on the suite's real stack. A real
delivery is checked with it in tests/workers/test_hooks.py."""

import asyncio
import json
import time

import pytest

from common import webhook_secrets
from domainq_client import AsyncClient, WebhookVerificationError
from domainq_client.webhooks import verify

BODY = json.dumps({"type": "job.completed", "timestamp": "2026-12-01T00:00:00+00:00", "data": {"id": "j1"}}).encode()


def _delivery(signing: list[str], body: bytes = BODY, at: int | None = None) -> dict[str, str]:
    at = int(time.time()) if at is None else at
    return {
        "Webhook-Id": "msg_j1_1",  # any case: frameworks differ
        "webhook-timestamp": str(at),
        "webhook-signature": webhook_secrets.sign(signing, "msg_j1_1", at, body),
    }


def test_a_delivery_the_server_signed_verifies_and_reads_as_an_event():
    secret = webhook_secrets.new_secret()
    event = verify(BODY, _delivery([secret]), secret)
    assert (event.id, event.type, event.data) == ("msg_j1_1", "job.completed", {"id": "j1"})
    assert verify(BODY.decode(), _delivery([secret]), [webhook_secrets.new_secret(), secret]).id == "msg_j1_1"


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda h, b: (h, b.replace(b"j1", b"j2")), "no webhook-signature matches"),
        (lambda h, b: ({**h, "Webhook-Id": "msg_j1_2"}, b), "no webhook-signature matches"),
        (lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b), "no webhook-signature"),
        (lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b), "no webhook-signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "webhook-signature header"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "not unix seconds"),
    ],
)
def test_a_changed_or_incomplete_delivery_is_refused_saying_why(change, reason):
    secret = webhook_secrets.new_secret()
    headers, body = change(_delivery([secret]), BODY)
    with pytest.raises(WebhookVerificationError, match=reason):
        verify(body, headers, secret)


def test_another_keys_secret_and_a_stale_delivery_are_refused():
    secret = webhook_secrets.new_secret()
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify(BODY, _delivery([secret]), webhook_secrets.new_secret())
    old = _delivery([secret], at=int(time.time()) - 301)
    with pytest.raises(WebhookVerificationError, match="too old, or a replay"):
        verify(BODY, old, secret)
    assert verify(BODY, old, secret, tolerance_s=600).type == "job.completed"
    with pytest.raises(ValueError, match="whsec_"):
        verify(BODY, _delivery([secret]), "whsec_not base64!")


def test_during_a_rotation_either_secret_verifies():
    old, new = webhook_secrets.new_secret(), webhook_secrets.new_secret()
    headers = _delivery([new, old])
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(BODY, headers, old).id == verify(BODY, headers, new).id == "msg_j1_1"
    with pytest.raises(WebhookVerificationError):
        verify(BODY, headers, webhook_secrets.new_secret())


def test_the_sdk_reads_and_rotates_its_keys_webhook_secret(sdk, api_url, redis_stack):
    first = sdk.keys.webhook_secret()
    assert first["webhook_secret"].startswith("whsec_") and first["key_id"]
    rotated = sdk.keys.rotate_webhook_secret(keep_previous_s=60)
    assert rotated["previous_webhook_secret"] == first["webhook_secret"] and rotated["previous_expires_in_s"] <= 60
    assert sdk.keys.rotate_webhook_secret()["previous_webhook_secret"] == rotated["webhook_secret"]  # 24 h default

    async def rotate_async() -> tuple[dict, dict]:
        async with AsyncClient(api_url, redis_stack.admin_key) as client:
            now = await client.keys.webhook_secret()
            return now, await client.keys.rotate_webhook_secret(keep_previous_s=0)

    now, after = asyncio.run(rotate_async())
    assert after["previous_webhook_secret"] is None and after["webhook_secret"] != now["webhook_secret"]
    assert sdk.keys.webhook_secret()["webhook_secret"] == after["webhook_secret"]


def test_the_cli_prints_and_rotates_the_webhook_secret(domainq):
    shown = domainq("keys", "webhook-secret")
    assert shown.returncode == 0, shown.stderr
    secret = json.loads(shown.stdout)["webhook_secret"]
    rotated = domainq("keys", "webhook-secret", "--rotate", "--keep-previous-s", "30")
    assert rotated.returncode == 0, rotated.stderr
    answer = json.loads(rotated.stdout)
    assert answer["previous_webhook_secret"] == secret and answer["webhook_secret"] != secret
    refused = domainq("keys", "webhook-secret", "--rotate", "--keep-previous-s", "-5")
    assert refused.returncode != 0 and "keep_previous_s" in refused.stderr
