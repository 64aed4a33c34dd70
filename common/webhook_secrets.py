"""Webhook signing secrets, one per API key, and the Standard Webhooks signature.

A secret is ``whsec_`` and the base64 of 32 random bytes, kept at ``dq:whsec:<key id>``. A key
gets one when it is made, or, for a key made before (and AUTH=off's owner), the first time one
is asked for: by its owner (``GET /v1/keys/me/webhook-secret``) or by a delivery. Revoking the
key deletes it. A delivery is signed with the secret's bytes (the base64 after ``whsec_``)::

    webhook-signature: v1,<base64 of HMAC-SHA256("<webhook-id>.<webhook-timestamp>.<body>")>

A rotation keeps the replaced secret for a while (24 h unless asked otherwise): until it expires
every delivery carries two signatures, space-separated as the spec allows, the new secret's
first, so a receiver still holding the old secret keeps verifying while it moves to the new one.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from common import keys
from common.apikeys import ANONYMOUS_ID
from common.scripts import Call, text

PREFIX = "whsec_"
# How long a rotation keeps the replaced secret signing beside the new one, by default and at most.
KEEP_PREVIOUS_S = 24 * 3600
MAX_KEEP_PREVIOUS_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Secrets:
    current: str
    previous: str | None = None
    previous_left_s: float = 0.0

    @property
    def signing(self) -> list[str]:
        """The secrets a delivery is signed with, the current one first."""
        return [self.current] if self.previous is None else [self.current, self.previous]


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _read(answer: Any) -> Secrets | None:
    if not answer:
        return None
    previous = text(answer[1]) or None
    return Secrets(text(answer[0]), previous, int(answer[2]) / 1000 if previous else 0.0)


def _call(key_id: str, mode: str, keep_previous_s: float = 0) -> Call[Secrets | None]:
    require_key = "0" if key_id == ANONYMOUS_ID else "1"
    return Call(
        "webhook_secret",
        [keys.webhook_secret(key_id), keys.APIKEYS, keys.previous_webhook_secret(key_id)],
        [key_id, new_secret(), mode, require_key, int(keep_previous_s * 1000)],
        _read,
    )


def get(key_id: str) -> Call[Secrets | None]:
    """The key's secrets (the current one made now if it has none); ``None`` when the key was
    revoked."""
    return _call(key_id, "get")


def rotate(key_id: str, keep_previous_s: float = KEEP_PREVIOUS_S) -> Call[Secrets | None]:
    """A new secret for the key; the old one keeps signing beside it for ``keep_previous_s``
    (0: it stops at once). ``None`` when the key was revoked."""
    if not 0 <= keep_previous_s <= MAX_KEEP_PREVIOUS_S:
        raise ValueError(f"keep_previous_s must be between 0 and {MAX_KEEP_PREVIOUS_S}")
    return _call(key_id, "rotate", keep_previous_s)


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of a delivery."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(signing: list[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of a delivery: one signature per secret, space-separated."""
    return " ".join(signature(secret, webhook_id, timestamp, body) for secret in signing)
