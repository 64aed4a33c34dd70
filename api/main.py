"""The FastAPI application factory: ``python -m api`` or ``uvicorn --factory api.main:create_app``."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.core.auth import Authentication, KeyCache, open_paths
from api.core.config import ApiSettings, get_api_settings
from api.core.errors import install_error_handlers
from api.core.estimates import QueueEstimates
from api.core.finished_meter import FinishedJobMeter
from api.core.http_metrics import RequestMetrics
from api.core.inputs import JobInputs
from api.core.jobs import JobService
from api.core.limits import BodySizeLimit
from api.core.metrics import ApiMetrics
from api.core.openapi import install_openapi
from api.core.presence import WorkerPresence
from api.core.request_id import RequestId
from api.core.results import StoredResults
from api.core.router import enabled_domains, include_domain_routers
from api.core.scrape import router as metrics_router
from api.core.waiter import JobWaiter
from api.keys.routes import router as keys_router
from api.openai import files as openai_files
from api.openai.batches import endpoints as batch_endpoints
from api.openai.batches import routes as openai_batches
from api.openai.batches.runner import BatchRunner
from api.openai.errors import OpenAIErrors
from api.uploads import router as uploads
from api.uploads.service import UploadService
from common import apikeys, webhook_secrets
from common.blobs import open_blob_store
from common.celery_app import make_celery
from common.enqueue import TaskMessages
from common.jobstore import AsyncJobStore, async_client, sync_client
from common.logs import configure_logging
from common.reconciler import Reconciler
from common.scripts import AsyncScripts

log = logging.getLogger(__name__)


def serve_docs_offline(app: FastAPI) -> None:
    """``/docs`` with Swagger UI's files from the swagger-ui-bundle-v2 package, not a CDN:
    API hosts are often offline, and FastAPI's default page is blank without its CDN."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


async def _ensure_bootstrap_admin(scripts: AsyncScripts, secret: str) -> None:
    """Store ``ADMIN_API_KEY``'s record (once; an existing one is kept), retrying while Redis is away."""
    delay = 0.5
    while True:
        try:
            record = apikeys.bootstrap_admin(secret)
            await scripts.run(apikeys.create(record, secret, webhook_secrets.new_secret(), keep_existing=True))
            return
        except redis.RedisError as exc:
            log.warning("bootstrap admin key not stored yet (%s); retrying in %.1fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or get_api_settings()
    if not logging.getLogger().handlers:
        # ``python -m api --workers N``: uvicorn spawns fresh interpreters that never ran the
        # parent's logging set-up, and would drop every INFO line (job events, access log).
        configure_logging(settings.log_format, settings.log_level)
    if not settings.auth:
        log.warning("AUTH=off: every caller is an admin and sees every job; only for a trusted single-user box")
    domains = enabled_domains(settings.domain)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reader = async_client(
            settings.redis_url, max_connections=settings.redis_max_connections, wait_s=settings.redis_pool_wait_s
        )
        scripts = AsyncScripts(reader)
        bootstrap = None
        if settings.auth and settings.admin_api_key is not None:
            bootstrap = asyncio.create_task(_ensure_bootstrap_admin(scripts, settings.admin_api_key.get_secret_value()))
            with contextlib.suppress(TimeoutError):  # Redis away: it goes on in the background
                await asyncio.wait_for(asyncio.shield(bootstrap), 2)
        waiter = JobWaiter(reader)
        waiter.on_finish(FinishedJobMeter(reader, metrics).observe)
        waiter.start()
        messages = TaskMessages(make_celery(settings))
        # Jobs are reconciled from every API process too, so they finish (or fail with a
        # reason) even while no worker of their domain runs.
        reconciler = Reconciler(sync_client(settings.redis_url), messages, settings)
        reconciler.start()
        app.state.workers = WorkerPresence(scripts, settings.workers_offline_after_s)
        app.state.estimates = QueueEstimates(reader, scripts, app.state.workers)
        blobs = open_blob_store(settings)
        inputs, results = JobInputs(blobs, settings.blob_inline_max_bytes), StoredResults(blobs)
        app.state.jobs = JobService(
            AsyncJobStore(reader), messages, waiter, metrics, settings, app.state.estimates, inputs, results
        )
        app.state.uploads = UploadService(reader, scripts, blobs, settings)
        app.state.redis = reader
        app.state.scripts = scripts
        app.state.keys = KeyCache(scripts)
        app.state.batch_endpoints = batch_endpoints.served(settings, app.state.uploads)
        batch_runner = BatchRunner(settings, reader, scripts, app.state.jobs, blobs, app.state.batch_endpoints)
        batch_runner.start()
        yield
        await batch_runner.stop()
        reconciler.stop()
        if bootstrap is not None:
            bootstrap.cancel()
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
    routes = include_domain_routers(app, domains, settings)
    app.state.domain_tasks = routes.tasks
    app.include_router(keys_router)
    app.include_router(uploads.build_router(settings))
    routes.body_caps[uploads.PREFIX + "/"] = uploads.max_body_bytes(settings)
    app.include_router(openai_files.build_router(settings))
    routes.body_caps[openai_files.PREFIX] = openai_files.max_body_bytes(settings)
    app.include_router(openai_batches.build_router(settings))
    routes.body_caps[openai_batches.PREFIX] = openai_batches.MAX_BODY_BYTES
    app.include_router(metrics_router)
    serve_docs_offline(app)
    open_exact, _ = open_paths(settings)
    install_openapi(app, open_exact)
    # Middleware, innermost first: body caps, then the key, OpenAI-shaped errors on /openai/,
    # CORS (its preflights need no key), the request id, and the request metrics outermost
    # (they time the 401s and 413s too).
    app.add_middleware(BodySizeLimit, caps=routes.body_caps)
    app.add_middleware(Authentication, settings=settings)
    # OpenAI's error shape on /openai/, the 401s and 413s included: the protocol's, whichever
    # domain brings routes there (none enabled: its 404s take the shape too).
    app.add_middleware(OpenAIErrors)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID"],
        )
    app.add_middleware(RequestId)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app
