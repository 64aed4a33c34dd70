"""``POST /v1/llm/generate`` and ``POST /v1/llm/embed``: validated, then queued."""

from fastapi import APIRouter, status
from pydantic import BaseModel, create_model

from api.core.auth import PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import JobsDep
from api.core.errors import documented
from api.core.submit_controls import SubmitControlsDep
from common.contracts.jobs import WEBHOOK_FIELDS, JobAccepted, WebhookOptions, time_limit
from common.contracts.llm import DOMAIN, EMBED, EXTRACT, GENERATE, LlmLimits, LlmRequests, bounded

TASKS = (GENERATE, EMBED, EXTRACT)  # extract: an extraction's own run (its OCR stage is the ocr domain's pages)
_ERRORS = documented(409, 413, 422, 429, 503)


def requests_for(settings: ApiSettings) -> LlmRequests:
    """The llm request models under the app's limits (``LLM_*``)."""
    return bounded(settings.domain_settings(LlmLimits))


def max_body_bytes(settings: ApiSettings) -> int:
    """Larger bodies are refused (413) before they are read: prompts and texts are capped anyway."""
    return settings.domain_settings(LlmLimits).max_body_bytes


def _split(body: BaseModel) -> tuple[dict[str, object], WebhookOptions]:
    """The task's params, and the submission's webhook options."""
    params = body.model_dump(mode="json", exclude=set(WEBHOOK_FIELDS))
    return params, WebhookOptions.model_validate(body.model_dump(include=set(WEBHOOK_FIELDS)))


def build_router(settings: ApiSettings) -> APIRouter:
    """The llm routes, their bodies bounded by the app's limits and the domain's hard time limit."""
    requests = requests_for(settings)
    longest = time_limit(settings.time_limits(DOMAIN)[1])
    generate_body = create_model(
        "GenerateSubmission",
        __base__=(WebhookOptions, requests.generate),
        __doc__="``POST /v1/llm/generate``'s body: the request, and optionally a webhook.",
        time_limit_s=(longest, None),
    )
    embed_body = create_model(
        "EmbedSubmission",
        __base__=(WebhookOptions, requests.embed),
        __doc__="``POST /v1/llm/embed``'s body: the request, and optionally a webhook.",
        time_limit_s=(longest, None),
    )
    router = APIRouter(prefix=f"/v1/{DOMAIN}", tags=[DOMAIN])

    @router.post("/generate", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=_ERRORS)
    async def generate(
        body: generate_body,
        jobs: JobsDep,
        principal: PrincipalDep,
        controls: SubmitControlsDep,
    ) -> JobAccepted:
        """Queue text generation from a prompt or chat messages; poll the job for the text (or
        follow its events, or take its webhook)."""
        params, hook = _split(body)
        return await jobs.submit(principal, DOMAIN, GENERATE, params, hook=hook, controls=controls)

    @router.post("/embed", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=_ERRORS)
    async def embed(
        body: embed_body,
        jobs: JobsDep,
        principal: PrincipalDep,
        controls: SubmitControlsDep,
    ) -> JobAccepted:
        """Queue embeddings (L2-normalized) of one or more texts."""
        params, hook = _split(body)
        return await jobs.submit(principal, DOMAIN, EMBED, params, hook=hook, controls=controls)

    return router
