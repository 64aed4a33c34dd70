"""Health, readiness, the domains listing and the job endpoints shared by all domains."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.core.auth import PrincipalDep
from api.core.deps import JobsDep
from api.core.errors import documented
from api.core.queues import queue_stats
from common.contracts.jobs import JobView
from common.contracts.naming import queue_name

router = APIRouter(tags=["base"])
TASKS: tuple[str, ...] = ()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
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
async def list_domains(request: Request) -> dict[str, Any]:
    """The enabled domains, their tasks, queue depth, jobs running and workers online now."""
    state = request.app.state
    stats = await queue_stats(state.redis, list(state.domain_tasks))
    online = await state.workers.online()  # a count a few seconds old at most
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
                "workers_online": online.get(queue, 0),
            }
        )
    return {"domains": domains}


@router.get("/v1/jobs/{job_id}", response_model=JobView, responses=documented(404, 422))
async def get_job(
    job_id: str,
    jobs: JobsDep,
    principal: PrincipalDep,
    wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for the job to finish.")] = 0,
) -> JobView:
    """A job's status and result; with ``wait`` it answers as soon as the job finishes."""
    return await jobs.get(job_id, principal, wait)


@router.delete("/v1/jobs/{job_id}", response_model=JobView, responses=documented(404, 409))
async def cancel_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobView:
    """Cancel a job: a queued one never runs; a running one stops or its result is dropped."""
    return await jobs.cancel(job_id, principal)
