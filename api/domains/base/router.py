"""Health, readiness, the domains listing and the job endpoints shared by all domains."""

import mimetypes
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.core.auth import PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import JobsDep
from api.core.errors import documented
from api.core.events import EVENT_ID_PATTERN, check_last_event_id, stream_events
from api.core.listing import CURSOR_PATTERN, MAX_LIMIT
from api.core.queues import queue_stats
from api.core.readiness import not_ready
from api.core.results import JobJson
from api.core.waits import HeldStream, unless_disconnected
from common.contracts.jobs import JobPage, JobStatus, JobView
from common.contracts.naming import queue_name
from common.presence import Capacity

router = APIRouter(tags=["base"])
TASKS: tuple[str, ...] = ()


def build_router(settings: ApiSettings) -> APIRouter:
    """The routes every app serves: none of them depends on a setting."""
    return router


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=documented(503))
async def readyz(request: Request) -> JSONResponse:
    """Ready when Redis (broker and job store) answers and takes writes."""
    reason = await not_ready(request.app.state.redis)
    if reason is not None:
        code, message = reason
        return JSONResponse({"status": "unavailable", "error": {"code": code, "message": message}}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/v1/domains", responses=documented(503))
async def list_domains(request: Request) -> dict[str, Any]:
    """The enabled domains, their tasks, queue depth, jobs running, workers online now and the
    jobs they run at once (slots), the median run time of their recent jobs and about how long a job submitted now waits."""
    state = request.app.state
    stats = await queue_stats(state.redis, list(state.domain_tasks))
    online = await state.workers.online()  # a second old at most
    domains = []
    for domain, tasks in state.domain_tasks.items():
        queue = queue_name(domain)
        depth, running = stats[domain]
        domains.append(
            {
                "name": domain,
                "tasks": list(tasks),
                "queue": queue,
                "queue_depth": depth,
                "running": running,
                "workers_online": online.get(domain, Capacity()).workers,
                "worker_slots": online.get(domain, Capacity()).slots,
                "p50_run_s": await state.estimates.p50_run_s(domain),
                "estimated_wait_s": await state.estimates.wait_s(domain, depth),
            }
        )
    return {"domains": domains}


@router.get("/v1/jobs", response_model=JobPage, responses=documented(422))
async def list_jobs(
    jobs: JobsDep,
    principal: PrincipalDep,
    domain: Annotated[str | None, Query(max_length=64, description="Only this domain's jobs.")] = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many jobs.")] = 20,
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="`next_cursor` of the page before.")
    ] = None,
) -> JobPage:
    """Your jobs (an admin key: everyone's), newest first. A page may hold fewer than ``limit``
    jobs when filters skip some; follow ``next_cursor`` until it is null. A result too large for
    the job's record (kept in the blob store) is not listed: ``result`` is null and
    ``result_omitted`` true; ``GET /v1/jobs/{id}`` answers the job with it."""
    return await jobs.list(principal, limit, cursor, domain, status)


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."},
        **documented(404, 422, 429),
    },
)
async def job_events(
    request: Request,
    job_id: str,
    jobs: JobsDep,
    principal: PrincipalDep,
    last_event_id: Annotated[
        str | None, Header(pattern=EVENT_ID_PATTERN, description="Resume after this event (empty: from the start).")
    ] = None,
) -> StreamingResponse:
    """A job's changes as server-sent events: ``status`` on each change, ``progress`` (for
    generation: the new text and ``completion_tokens``), then ``done`` with the whole job.
    ``Last-Event-ID`` resumes after the last event seen, losing nothing."""
    after = check_last_event_id(last_event_id)
    record = await jobs.read(job_id, principal)
    release = jobs.waits.take(principal.id, "events")
    state = request.app.state
    stream = stream_events(jobs, state.redis, record, after, state.settings.events_heartbeat_s)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return HeldStream(stream, release, media_type="text/event-stream", headers=headers)


@router.get("/v1/jobs/{job_id}", response_model=JobView, responses=documented(404, 422, 429, 503))
async def get_job(
    request: Request,
    job_id: str,
    jobs: JobsDep,
    principal: PrincipalDep,
    wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for the job to finish.")] = 0,
) -> JobView | Response:
    """A job's status and result; with ``wait`` it answers as soon as the job finishes. A result
    too large for the job's record is streamed from the blob store into the same JSON (503
    ``store_unavailable`` while the store is unreachable)."""
    if wait <= 0:
        return _answered(await jobs.answer(job_id, principal))
    with jobs.waits.held(principal.id, "long_poll"):
        answer = await unless_disconnected(request, jobs.answer(job_id, principal, wait))
    return Response(status_code=499) if answer is None else _answered(answer)  # 499: the client closed the request


def _answered(answer: JobView | JobJson) -> JobView | Response:
    if isinstance(answer, JobJson):
        return StreamingResponse(answer, media_type="application/json")
    return answer


@router.get(
    "/v1/jobs/{job_id}/files/{name}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file, as the job made it."},
        **documented(404, 503),
    },
)
async def job_file(job_id: str, name: str, jobs: JobsDep, principal: PrincipalDep) -> StreamingResponse:
    """A file a job made beside its result, named in its result's ``files`` (a document's
    ``searchable.pdf`` with ``output: pdf``), streamed from the blob store; for the job's owner
    (or an admin), once it succeeded; kept as long as the job's record."""
    opened = await jobs.file(job_id, name, principal)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {"Content-Length": str(opened.info.size), "Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(opened, media_type=media_type, headers=headers)


@router.delete("/v1/jobs/{job_id}", response_model=JobView, responses=documented(404, 409))
async def cancel_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobView:
    """Cancel a job: a queued one never runs; a running one stops or its result is dropped."""
    return await jobs.cancel(job_id, principal)
