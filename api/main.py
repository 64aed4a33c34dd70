"""The FastAPI application factory: ``python -m api`` or ``uvicorn --factory api.main:create_app``."""

from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI

from api.core.config import ApiSettings, get_api_settings
from api.core.errors import install_error_handlers
from api.core.jobs import JobService
from api.core.limits import BodySizeLimit
from api.core.router import enabled_domains, include_domain_routers
from api.core.waiter import JobWaiter
from common.celery_app import make_celery
from common.jobstore import JobStore


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or get_api_settings()
    domains = enabled_domains(settings.domain)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reader = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        waiter = JobWaiter(reader)
        waiter.start()
        store = JobStore.from_url(settings.redis_url, settings.job_ttl_s)
        app.state.jobs = JobService(store, reader, waiter, make_celery(settings))
        app.state.redis = reader
        yield
        await waiter.stop()
        await reader.aclose()

    app = FastAPI(
        title="domainq",
        summary="Asynchronous AI inference jobs, split by domain.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Base64 JSON bodies are 4/3 of the file; leave room for that and multipart framing.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes * 4 // 3 + 64 * 1024)
    app.state.domain_tasks = include_domain_routers(app, domains)
    return app
