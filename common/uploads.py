"""Uploads: files put in the blob store before any job names them (``POST /v1/uploads``).

An upload is its record in Redis (``dq:upload:<id>``: owner, declared size, content type,
filename; it expires ``UPLOAD_TTL_S`` after it was made) and, once its bytes arrive, the object
``uploads/<id>`` (``common.blobs.keys``). The record is the upload: an object whose record has
gone is swept (``common.blob_sweeper``). Creating one is one script, which also applies the
key's storage quota: the declared bytes of its live uploads. A job that names an upload copies
it (``jobs/<job id>/<name>``), so the job owns its input and the upload expires on its own.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from common import keys
from common.contracts.inputs import UPLOAD_ID_PATTERN
from common.scripts import Call, text

# An upload id as ``new_id`` makes it: anything else is no upload, answered without asking Redis.
UPLOAD_ID = re.compile(UPLOAD_ID_PATTERN[1:-1])


class UploadRecord(BaseModel):
    id: str
    owner: str
    bytes: int  # declared: the most its object may hold
    content_type: str
    filename: str
    created_at: datetime
    expires_at: datetime
    purpose: str | None = None  # an OpenAI file's (``POST /openai/v1/files``); None: a plain upload

    @classmethod
    def from_hash(cls, upload_id: str, raw: dict[str, str]) -> "UploadRecord | None":
        if not raw:
            return None
        return cls(
            id=upload_id,
            owner=raw["owner"],
            bytes=int(raw["bytes"]),
            content_type=raw["content_type"],
            filename=raw["filename"],
            created_at=_from_ms(raw["created_ms"]),
            expires_at=_from_ms(raw["expires_ms"]),
            purpose=raw.get("purpose"),
        )


@dataclass(frozen=True)
class Created:
    """What ``create`` answered: the record, or the key's bytes in use and when its first upload expires."""

    record: UploadRecord | None
    used_bytes: int = 0
    frees_in_s: float = 0


def new_id() -> str:
    return "up_" + secrets.token_hex(16)


def _from_ms(ms: str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def create(
    owner: str,
    declared_bytes: int,
    content_type: str,
    filename: str,
    ttl_s: float,
    quota_bytes: int,
    purpose: str | None = None,
    upload_id: str | None = None,
) -> Call[Created]:
    """Record a new upload of ``owner``'s, unless it would pass the key's quota (0: none).
    ``upload_id``: the id to record it under (made again, the same record), else a new one."""
    upload_id = upload_id or new_id()
    fields = {"owner": owner, "bytes": str(declared_bytes), "content_type": content_type, "filename": filename}
    if purpose is not None:
        fields["purpose"] = purpose

    def parse(answer: list[Any]) -> Created:
        status, first, second = (text(part) for part in answer)
        if status == "over_quota":
            return Created(None, int(first), int(second) / 1000)
        raw = {**fields, "created_ms": first, "expires_ms": second}
        return Created(UploadRecord.from_hash(upload_id, raw))

    flat = [part for pair in fields.items() for part in pair]
    args = [upload_id, declared_bytes, int(ttl_s * 1000), quota_bytes, *flat]
    return Call("upload_create", [keys.upload(upload_id), keys.owner_uploads(owner)], args, parse)


def delete(upload_id: str, owner: str) -> Call[bool]:
    """Forget ``owner``'s upload; False when it has none of that id."""
    return Call("upload_delete", [keys.upload(upload_id), keys.owner_uploads(owner)], [upload_id, owner], bool)
