"""Run one llm job for an OpenAI-style request: submit, wait, and cancel if the caller leaves.

A request with an ``Idempotency-Key`` is one its caller means to retry: its job is not canceled
when the caller leaves, so the retry (same key, same body) finds it and answers its result.
"""

import logging
from typing import Any

import anyio
from fastapi import Request
from pydantic import BaseModel, ValidationError

from api.core.auth import Principal
from api.core.errors import ApiError
from api.core.jobs import JobService
from api.core.submit_controls import SubmitControls
from common.contracts.jobs import JobStatus, JobView
from common.contracts.llm import DOMAIN
from common.records import JobRecord

log = logging.getLogger(__name__)
# How often a waiting (non-streamed) request checks that its caller is still there.
DISCONNECT_CHECK_S = 1.0
# A failed job's error type (the worker's exception) that is the caller's fault -> its code.
_CALLERS_FAULTS = {"JobInputError": "job_failed", "InvalidConstraint": "invalid_constraint"}


def validated(model: type[BaseModel], params: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    """The job's params checked by the llm contract: its limits answer 400, as OpenAI's would.
    ``names`` maps the contract's field names back to the request's (``max_new_tokens``)."""
    try:
        return model.model_validate(params).model_dump(mode="json")
    except ValidationError as exc:
        names = names or {}
        locs = [[names.get(str(p), p) for p in e.get("loc", ())] for e in exc.errors()]
        first = exc.errors()[0]
        where = ".".join(str(p) for p in locs[0])
        details = [{"loc": ["body", *loc], "msg": e.get("msg", "")} for loc, e in zip(locs, exc.errors(), strict=True)]
        raise ApiError(422, "invalid_request", f"{where}: {first['msg']}".lstrip(": "), details) from None


async def submit(
    jobs: JobService, principal: Principal, verb: str, params: dict[str, Any], controls: SubmitControls
) -> str:
    """The job's id: a new job's, or with an ``Idempotency-Key`` seen before, that key's job."""
    return (await jobs.submit(principal, DOMAIN, verb, params, controls=controls)).id


def cancels_on_disconnect(controls: SubmitControls) -> bool:
    return controls.idempotency_key is None


async def cancel_quietly(jobs: JobService, principal: Principal, job_id: str) -> None:
    """Cancel a job whose caller went away; shielded, since it runs while being cancelled."""
    with anyio.CancelScope(shield=True):
        try:
            await jobs.cancel(job_id, principal)
            log.info("caller disconnected: job canceled", extra={"job_id": job_id})
        except ApiError:
            pass  # it finished meanwhile


async def wait_for(
    request: Request, jobs: JobService, principal: Principal, job_id: str, controls: SubmitControls
) -> JobRecord:
    """The job's record once finished; a caller that disconnects first cancels it (unless it may retry)."""
    done = False
    try:
        while True:
            record = await jobs.record(job_id, principal, wait_s=DISCONNECT_CHECK_S)
            if record.status.finished:
                done = True
                return record
            if await request.is_disconnected():
                raise ApiError(499, "client_closed_request", "the caller disconnected")
    finally:
        if not done and cancels_on_disconnect(controls):
            await cancel_quietly(jobs, principal, job_id)


async def finished_result(jobs: JobService, record: JobRecord) -> dict[str, Any]:
    """A finished job's result (loaded, if it lies in the blob store), or its error answer."""
    return result_of(await jobs.with_result(record))


def result_of(view: JobView) -> dict[str, Any]:
    """A succeeded job's result; a failed or canceled one as an error answer."""
    if view.status == JobStatus.succeeded and view.result is not None:
        return view.result
    if view.status == JobStatus.failed and view.error is not None:
        # Bad input the worker found (a prompt past the context, a schema the engine cannot
        # compile) is the caller's to fix.
        status = 400 if view.error.type in _CALLERS_FAULTS else 500
        code = _CALLERS_FAULTS.get(view.error.type, "job_failed")
        raise ApiError(status, code, f"job {view.id} failed: {view.error.message}")
    raise ApiError(409, "job_canceled", f"job {view.id} was {view.status}")
