"""The upload routes' request and answers; the request's size cap comes from the settings."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from common.contracts.bounds import tightened
from common.contracts.jobs import json_integer

# A media type without parameters (RFC 6838's restricted names): stored and given back as the
# object's Content-Type; what the bytes really are is checked by the job that uses them.
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
# Any name without control characters: only shown back.
FILENAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class CreateUploadRequest(BaseModel):
    # Strict and closed: what the document says is what is taken (see api.keys.routes).
    model_config = ConfigDict(strict=True, extra="forbid")

    filename: str = Field(min_length=1, max_length=255, pattern=FILENAME_PATTERN, description="The file's name.")
    content_type: str = Field(
        "application/octet-stream", max_length=255, pattern=MEDIA_TYPE_PATTERN, description="The file's media type."
    )
    bytes: int = Field(
        ge=1,
        strict=False,
        description="The file's size: the most its PUT may send. It counts against the key's storage quota "
        "until the upload expires or is deleted.",
    )

    _integers = field_validator("bytes", mode="before")(json_integer)


def create_request(max_bytes: int) -> type[CreateUploadRequest]:
    """The request under the upload cap (``MAX_STORED_UPLOAD_BYTES``)."""
    return create_model(
        "CreateUploadRequest",
        __base__=CreateUploadRequest,
        bytes=tightened(CreateUploadRequest, "bytes", le=max_bytes),
    )


class UploadCreated(BaseModel):
    id: str = Field(description="Name it as `file_id` in a job.")
    upload_url: str = Field(description="Where to send the file's bytes, as the body of one request.")
    method: Literal["PUT"] = "PUT"
    requires_api_key: bool = Field(
        description="true: send your API key with the PUT (the API's own route). false: the URL is presigned "
        "and carries its own signature; send no Authorization header."
    )
    expires_at: datetime = Field(description="When the upload (and its URL) expires, unless deleted before.")


class UploadView(BaseModel):
    id: str
    filename: str
    content_type: str
    bytes: int = Field(description="The size it declared: the most it may hold.")
    state: Literal["pending", "uploaded"] = Field(description="pending: no bytes yet; uploaded: ready for jobs.")
    size: int | None = Field(None, description="The bytes it holds, once uploaded.")
    refused: str | None = Field(
        None, description="Why bytes that arrived by its presigned URL were refused (and deleted): send them again."
    )
    created_at: datetime
    expires_at: datetime


def put_body(max_bytes: int) -> dict[str, Any]:
    """The PUT's ``requestBody``: the file's bytes, streamed to the store as they come."""
    binary = {
        "type": "string",
        "format": "binary",
        "maxLength": max_bytes,
        "description": "The file's bytes: at most the size the upload declared.",
    }
    return {"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": binary}}}}
