"""``/openai/v1/batches``: create, read, list and cancel batches, in OpenAI's shapes.

The routes only record and read: the batch's lines are checked, fed, collected and written by
the runner (``api.openai.batches.runner``), so a batch goes on whichever API process answered.
"""

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.core.auth import Principal, PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import UploadsDep
from api.core.errors import ApiError
from api.openai.batches import store as batches
from api.openai.batches.endpoints import ENDPOINTS
from api.openai.files import FILE_TTL_S
from common.contracts.inputs import UPLOAD_ID_PATTERN

PREFIX = "/openai/v1/batches"
MAX_BODY_BYTES = 64 * 1024
# OpenAI's limits on metadata: 16 pairs, keys of 64 characters, values of 512.
MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512


class CreateBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_file_id: str = Field(pattern=UPLOAD_ID_PATTERN)
    endpoint: Literal[ENDPOINTS]  # type: ignore[valid-type]
    completion_window: Literal["24h"]
    metadata: dict[str, str] | None = None

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, metadata: dict[str, str] | None) -> dict[str, str] | None:
        if metadata is None:
            return None
        if len(metadata) > MAX_METADATA_PAIRS:
            raise ValueError(f"at most {MAX_METADATA_PAIRS} pairs")
        for key, value in metadata.items():
            if len(key) > MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
                raise ValueError(f"keys of at most {MAX_METADATA_KEY} characters, values of {MAX_METADATA_VALUE}")
        return metadata


def _not_found(batch_id: str) -> ApiError:
    return ApiError(404, "batch_not_found", f"no batch with id {batch_id!r}")


def _store(request: Request) -> batches.BatchStore:
    return batches.BatchStore(request.app.state.redis, request.app.state.scripts)


async def _read(request: Request, principal: Principal, batch_id: str) -> batches.BatchRecord:
    record = await _store(request).get(batch_id) if batch_id.startswith("batch_") and len(batch_id) < 64 else None
    if record is None or (record.owner != principal.id and not principal.is_admin):
        raise _not_found(batch_id)
    return record


def build_router(settings: ApiSettings) -> APIRouter:
    # Left out of /openapi.json, as the other OpenAI routes: OpenAI's reference documents them.
    router = APIRouter(prefix=PREFIX, tags=["openai"], include_in_schema=False)

    @router.post("")
    async def create_batch(
        body: CreateBatchRequest, request: Request, uploads: UploadsDep, principal: PrincipalDep
    ) -> batches.BatchObject:
        """Take a ``purpose=batch`` file of requests to ``endpoint``; its lines are checked next
        (``validating``), then run as jobs of priority ``batch``."""
        if body.endpoint not in request.app.state.batch_endpoints:
            raise ApiError(400, "unsupported_endpoint", f"this API serves no {body.endpoint} (its domain is off)")
        file = await uploads.read(principal, body.input_file_id)
        if file.purpose != "batch":
            raise ApiError(400, "invalid_file", f"file {file.id} has purpose {file.purpose!r}; a batch takes 'batch'")
        if (await uploads.view(principal, file.id)).size is None:
            raise ApiError(400, "invalid_file", f"file {file.id} has no bytes yet")
        batch_id, now = batches.new_id(), batches.now_s()
        record = {
            "id": batch_id,
            "owner": principal.id,
            "role": principal.role,
            "key_hash": principal.key_hash or "",
            "weight": str(principal.weight),
            "endpoint": body.endpoint,
            "input_file_id": file.id,
            "completion_window": body.completion_window,
            "status": "validating",
            "created_at": str(now),
            "expires_at": str(now + int(settings.batch_completion_window_s)),
            "metadata": json.dumps(body.metadata) if body.metadata is not None else "",
        }
        limit = (
            settings.default_max_jobs_in_flight
            if principal.max_jobs_in_flight is None
            else principal.max_jobs_in_flight
        )
        call = batches.create(record, batch_id, principal.id, settings.batch_max_in_progress_per_key, limit, FILE_TTL_S)
        answer = await request.app.state.scripts.run(call)
        if answer == "too_many_batches":
            message = (
                f"key {principal.id} has its maximum of {settings.batch_max_in_progress_per_key} batches in progress"
            )
            raise ApiError(429, "too_many_batches", message, headers={"Retry-After": "60"})
        if answer == "too_many_jobs":
            message = f"key {principal.id} has its maximum of jobs queued or running; a batch counts as one"
            raise ApiError(429, "too_many_jobs", message, headers={"Retry-After": "2"})
        return (await _read(request, principal, batch_id)).view()

    @router.get("")
    async def list_batches(
        request: Request,
        principal: PrincipalDep,
        after: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> batches.BatchList:
        """The caller's batches, newest first; ``after`` a batch id."""
        store = _store(request)
        ids = await store.owned(principal.id)
        if after is not None:
            ids = ids[ids.index(after) + 1 :] if after in ids else []
        data: list[batches.BatchObject] = []
        for batch_id in ids:
            if len(data) > limit:
                break
            record = await store.get(batch_id)
            if record is not None:  # expired records leave their id behind a while
                data.append(record.view())
        page = data[:limit]
        first, last = (page[0].id, page[-1].id) if page else (None, None)
        return batches.BatchList(data=page, first_id=first, last_id=last, has_more=len(data) > limit)

    @router.get("/{batch_id}")
    async def retrieve_batch(batch_id: str, request: Request, principal: PrincipalDep) -> batches.BatchObject:
        return (await _read(request, principal, batch_id)).view()

    @router.post("/{batch_id}/cancel")
    async def cancel_batch(batch_id: str, request: Request, principal: PrincipalDep) -> batches.BatchObject:
        """Stop a batch: lines not started never run; it ends ``cancelled`` with what completed."""
        record = await _read(request, principal, batch_id)
        cancelling = {"status": "cancelling", "cancelling_at": str(batches.now_s())}
        answer, status = await request.app.state.scripts.run(
            batches.update(record.id, "", ("validating", "in_progress"), **cancelling)
        )
        if answer == "refused" and status not in ("cancelling", "cancelled"):
            raise ApiError(409, "batch_not_cancellable", f"batch {batch_id} is {status}; nothing to cancel")
        return (await _read(request, principal, batch_id)).view()

    return router
