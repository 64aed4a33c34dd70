"""Health, readiness, the domains listing and the job endpoints shared by all domains."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.core.deps import JobsDep
from api.core.errors import documented
from common.contracts.jobs import JobView
from common.contracts.naming import queue_name
from common.jobstore import queue_lists, running_key

router = APIRouter(tags=["base"])
TASKS: tuple[str, ...] = ()


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=documented(503))
async def readyz(request: Request) -> JSONResponse:
    """Ready when Redis (broker and job store) answers."""
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), timeout=2)
    except Exception as exc:
        reason = f"redis unreachable: {type(exc).__name__}: {exc}".rstrip(": ")
        return JSONResponse(
            {"status": "unavailable", "error": {"code": "redis_unavailable", "message": reason}},
            status_code=503,
        )
    return JSONResponse({"status": "ready"})


@router.get("/v1/domains", responses=documented(503))
async def list_domains(request: Request) -> dict:
    """The enabled domains, their tasks, queue depth and jobs running now."""
    client = request.app.state.redis
    domains = []
    for domain, tasks in request.app.state.domain_tasks.items():
        queue = queue_name(domain)
        async with client.pipeline(transaction=False) as pipe:
            for key in queue_lists(queue):
                pipe.llen(key)
            pipe.scard(running_key(domain))
            *depths, running = await pipe.execute()
        domains.append(
            {"name": domain, "tasks": list(tasks), "queue": queue, "queue_depth": sum(depths), "running": running}
        )
    return {"domains": domains}


@router.get("/v1/jobs/{job_id}", response_model=JobView, responses=documented(404, 422))
async def get_job(
    job_id: str,
    jobs: JobsDep,
    wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for the job to finish.")] = 0,
) -> JobView:
    """A job's status and result; with ``wait`` it answers as soon as the job finishes."""
    return await jobs.get(job_id, wait)


@router.delete("/v1/jobs/{job_id}", response_model=JobView, responses=documented(404, 409))
def cancel_job(job_id: str, jobs: JobsDep) -> JobView:
    """Cancel a job: a queued one never runs; a running one stops or its result is dropped."""
    return jobs.cancel(job_id)
