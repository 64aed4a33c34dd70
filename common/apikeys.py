"""API keys: random secrets shown once, stored only as their SHA-256, with a role and limits.

A secret is ``dq_`` and 43 URL-safe characters (256 random bits); at that entropy a fast hash
is as safe as a slow one and keeps the lookup cheap. The record (``dq:apikey:<sha256>``) holds
what a request needs to know: the key's id, name, role and limits. Every change is one Lua
script (``common/lua/key_*.lua``) run through ``common.scripts``, sync (the command line) or
async (the API).
"""

import hashlib
import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from common import keys
from common.records import now_iso
from common.scripts import Call, text

Role = Literal["user", "admin"]
SECRET_PREFIX = "dq_"
# With AUTH=off every caller is this one owner, which is no stored key.
ANONYMOUS_ID = "anonymous"


class KeyRecord(BaseModel):
    """An API key as stored and listed: never its secret."""

    id: str
    name: str
    role: Role
    rate_limit_per_minute: int | None = Field(None, description="Submissions a minute; null: the server default.")
    max_jobs_in_flight: int | None = Field(None, description="Jobs queued or running at once; null: the default.")
    weight: float = Field(
        1.0, gt=0, le=1000, description="Its share of each domain's workers beside other keys' (fair share)."
    )
    created_at: datetime
    last_used_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def from_fields(cls, flat: list[Any]) -> "KeyRecord | None":
        """From a flat field/value list, as HGETALL answers inside a script; ``None`` if empty."""
        if not flat:
            return None
        values = [text(v) for v in flat]
        return cls.model_validate(dict(zip(values[::2], values[1::2], strict=True)))

    def to_hash(self) -> dict[str, str]:
        return {name: str(value) for name, value in self.model_dump(mode="json", exclude_none=True).items()}


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(
    name: str,
    role: Role = "user",
    rate_limit_per_minute: int | None = None,
    max_jobs_in_flight: int | None = None,
    weight: float = 1.0,
) -> tuple[KeyRecord, str]:
    """A fresh key's record and its secret (to show once)."""
    record = KeyRecord(
        id="key_" + secrets.token_hex(8),
        name=name,
        role=role,
        rate_limit_per_minute=rate_limit_per_minute,
        max_jobs_in_flight=max_jobs_in_flight,
        weight=weight,
        created_at=datetime.fromisoformat(now_iso()),
    )
    return record, new_secret()


def bootstrap_admin(secret: str) -> KeyRecord:
    """The record of the admin key a deployment sets in ``ADMIN_API_KEY``; its id follows from it."""
    return KeyRecord(
        id="key_admin_" + secret_hash(secret)[:8],
        name="bootstrap admin (ADMIN_API_KEY)",
        role="admin",
        created_at=datetime.fromisoformat(now_iso()),
    )


def create(record: KeyRecord, secret: str, webhook_secret: str, *, keep_existing: bool = False) -> Call[str]:
    """Store a key with its webhook signing secret (``common.webhook_secrets``); ``keep_existing``
    leaves a key with the same secret untouched."""
    sha = secret_hash(secret)
    fields = [item for pair in record.to_hash().items() for item in pair]
    return Call(
        "key_create",
        [keys.apikey(sha), keys.APIKEYS, keys.webhook_secret(record.id)],
        ["nx" if keep_existing else "", record.id, sha, webhook_secret, *fields],
        text,
    )


def authenticate(secret: str) -> Call[KeyRecord | None]:
    """The key whose secret this is (marked used now), or ``None``."""
    return Call("key_auth", [keys.apikey(secret_hash(secret))], [now_iso()], KeyRecord.from_fields)


def revoke(key_id: str) -> Call[KeyRecord | None]:
    """Delete a key by id, and its webhook secret; the revoked record, or ``None`` for no such key."""
    return Call("key_revoke", [keys.APIKEYS], [key_id, keys.apikey("")], KeyRecord.from_fields)


def update(key_id: str, changes: dict[str, Any]) -> Call[KeyRecord | None]:
    """Change a key's limits or weight (``None``: back to the default); the changed record, or
    ``None`` for no such key. API processes see it within their key cache's second."""
    fields = [item for name, value in changes.items() for item in (name, "" if value is None else str(value))]
    return Call("key_update", [keys.APIKEYS], [key_id, keys.apikey(""), *fields], KeyRecord.from_fields)


def list_keys() -> Call[list[KeyRecord]]:
    def parse(answer: list[list[Any]]) -> list[KeyRecord]:
        records = [KeyRecord.from_fields(fields) for fields in answer]
        return sorted((r for r in records if r is not None), key=lambda r: r.created_at)

    return Call("key_list", [keys.APIKEYS], [keys.apikey("")], parse)
