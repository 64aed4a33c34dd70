"""The FastAPI application factory: ``python -m api`` or ``uvicorn --factory api.main:create_app``."""

import logging
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.core.config import ApiSettings, get_api_settings
from api.core.errors import install_error_handlers
from api.core.jobs import JobService
from api.core.limits import BodySizeLimit
from api.core.metrics import ApiMetrics, FinishedJobMeter, RequestMetrics, WorkerPresence
from api.core.metrics import router as metrics_router
from api.core.router import enabled_domains, include_domain_routers
from api.core.waiter import JobWaiter
from common.celery_app import make_celery
from common.enqueue import TaskMessages
from common.jobstore import AsyncJobStore
from common.logs import configure_logging


def serve_docs_offline(app: FastAPI) -> None:
    """``/docs`` with Swagger UI's files from the swagger-ui-bundle-v2 package, not a CDN:
    API hosts are often offline, and FastAPI's default page is blank without its CDN."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - API docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or get_api_settings()
    if not logging.getLogger().handlers:
        # ``python -m api --workers N``: uvicorn spawns fresh interpreters that never ran the
        # parent's logging set-up, and would drop every INFO line (job events, access log).
        configure_logging(settings.log_format, settings.log_level)
    domains = enabled_domains(settings.domain)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # A client from a URL retries nothing: after a Redis restart every pooled connection would
        # fail one request. Retry connection errors briefly, on a fresh connection.
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3)
        reader = aioredis.Redis.from_url(settings.redis_url, decode_responses=True, retry=retry)
        waiter = JobWaiter(reader)
        waiter.on_finish(FinishedJobMeter(reader, metrics).observe)
        waiter.start()
        store = AsyncJobStore(reader, settings.job_ttl_s)
        app.state.jobs = JobService(store, TaskMessages(make_celery(settings)), waiter, metrics)
        app.state.redis = reader
        app.state.workers = WorkerPresence(
            settings.redis_url, settings.workers_probe_timeout_s, settings.workers_probe_interval_s
        )
        yield
        await app.state.workers.close()
        await waiter.stop()
        await reader.aclose()

    app = FastAPI(
        title="domainq",
        summary="Asynchronous AI inference jobs, split by domain.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by serve_docs_offline
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    # Base64 JSON bodies are 4/3 of the file; leave room for that and multipart framing.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes * 4 // 3 + 64 * 1024)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: it times the 413s above too
    app.state.domain_tasks = include_domain_routers(app, domains)
    app.include_router(metrics_router)
    serve_docs_offline(app)
    return app
