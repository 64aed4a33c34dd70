"""Webhook signing secrets: one per API key, shown at creation, read and rotated by the key's
owner, gone with the key. Real API on real Redis; the deliveries they sign are tested in
tests/workers/test_hooks.py."""

import base64

import httpx

from common import keys
from tests.builders import as_key

SECRET = "/v1/keys/me/webhook-secret"


def _secret_bytes(secret: str) -> bytes:
    assert secret.startswith("whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


def test_a_new_key_comes_with_a_webhook_secret_its_owner_can_read_and_rotate(client, api_url):
    created = client.post("/v1/keys", json={"name": "hooked"}).json()
    assert len(_secret_bytes(created["webhook_secret"])) == 32
    assert created["webhook_secret"] not in client.get("/v1/keys").text
    with as_key(api_url, created["key"]) as owner:
        mine = owner.get(SECRET)
        assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store"
        assert mine.json() == {
            "key_id": created["id"], "webhook_secret": created["webhook_secret"],
            "previous_webhook_secret": None, "previous_expires_in_s": None,
        }  # fmt: skip
        rotated = owner.post(f"{SECRET}/rotate").json()
        assert rotated["key_id"] == created["id"] and len(_secret_bytes(rotated["webhook_secret"])) == 32
        assert rotated["webhook_secret"] != created["webhook_secret"]
        # The old one signs beside it for a day by default, so receivers move over without a gap.
        assert rotated["previous_webhook_secret"] == created["webhook_secret"]
        assert 86_390 <= rotated["previous_expires_in_s"] <= 86_400
        again = owner.get(SECRET).json()
        assert again["webhook_secret"] == rotated["webhook_secret"]
        assert again["previous_webhook_secret"] == created["webhook_secret"]
    # Each key has its own: the admin's is another.
    assert client.get(SECRET).json()["webhook_secret"] not in (created["webhook_secret"], rotated["webhook_secret"])


def test_a_rotation_may_keep_the_old_secret_for_a_while_or_not_at_all(client, api_url, redis_client):
    created = client.post("/v1/keys", json={"name": "rotating"}).json()
    with as_key(api_url, created["key"]) as owner:
        first = owner.post(f"{SECRET}/rotate", params={"keep_previous_s": 60}).json()
        assert first["previous_webhook_secret"] == created["webhook_secret"]
        assert 50 <= first["previous_expires_in_s"] <= 60
        assert 0 < redis_client.pttl(keys.previous_webhook_secret(created["id"])) <= 60_000
        # Another rotation keeps only the secret it replaced, never an older one.
        second = owner.post(f"{SECRET}/rotate", params={"keep_previous_s": 0}).json()
        assert second["previous_webhook_secret"] is None and second["previous_expires_in_s"] is None
        assert redis_client.get(keys.previous_webhook_secret(created["id"])) is None
        for bad in (-1, 7 * 24 * 3600 + 1, "soon"):
            refused = owner.post(f"{SECRET}/rotate", params={"keep_previous_s": bad})
            assert refused.status_code == 422 and "keep_previous_s" in refused.text, refused.text
        assert owner.get(SECRET).json()["webhook_secret"] == second["webhook_secret"]  # refusals changed nothing


def test_revoking_a_key_deletes_its_webhook_secrets(client, api_url, redis_client):
    created = client.post("/v1/keys", json={"name": "short-lived"}).json()
    assert redis_client.get(keys.webhook_secret(created["id"])) == created["webhook_secret"]
    with as_key(api_url, created["key"]) as owner:
        assert owner.post(f"{SECRET}/rotate").status_code == 200
    assert redis_client.get(keys.previous_webhook_secret(created["id"])) == created["webhook_secret"]
    assert client.delete(f"/v1/keys/{created['id']}").status_code == 200
    assert redis_client.get(keys.webhook_secret(created["id"])) is None
    assert redis_client.get(keys.previous_webhook_secret(created["id"])) is None


def test_a_key_made_before_webhooks_gets_its_secret_when_first_asked(client, api_url, redis_client):
    created = client.post("/v1/keys", json={"name": "older"}).json()
    redis_client.delete(keys.webhook_secret(created["id"]))  # as a key made by an older version
    with as_key(api_url, created["key"]) as owner:
        first = owner.get(SECRET).json()["webhook_secret"]
        assert len(_secret_bytes(first)) == 32 and owner.get(SECRET).json()["webhook_secret"] == first


def test_with_auth_off_the_one_owner_has_a_secret_too(isolated_stack):
    base = isolated_stack.start_api(domain="llm", env={"AUTH": "off"})
    with httpx.Client(base_url=base, timeout=30) as anyone:
        first = anyone.get(SECRET).json()
        assert first["key_id"] == "anonymous" and len(_secret_bytes(first["webhook_secret"])) == 32
        assert anyone.get(SECRET).json() == first
        assert anyone.post(f"{SECRET}/rotate").json()["webhook_secret"] != first["webhook_secret"]
