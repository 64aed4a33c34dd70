"""``POST /v1/llm/generate`` and ``POST /v1/llm/embed``: validated, then queued."""

from fastapi import APIRouter, status

from api.core.auth import PrincipalDep
from api.core.deps import JobsDep
from api.core.errors import documented
from api.core.submit_controls import SubmitControlsDep
from common.contracts.jobs import WEBHOOK_FIELDS, JobAccepted, WebhookOptions
from common.contracts.llm import DOMAIN, EMBED, GENERATE, EmbedSubmission, GenerateSubmission, get_llm_limits

router = APIRouter(prefix=f"/v1/{DOMAIN}", tags=[DOMAIN])
TASKS = (GENERATE, EMBED)
# Larger bodies are refused (413) before they are read: prompts and texts are capped anyway.
MAX_BODY_BYTES = get_llm_limits().max_body_bytes


_ERRORS = documented(409, 413, 422, 429, 503)


def _split(body: WebhookOptions) -> tuple[dict[str, object], WebhookOptions]:
    """The task's params, and the submission's webhook options."""
    params = body.model_dump(mode="json", exclude=set(WEBHOOK_FIELDS))
    return params, WebhookOptions.model_validate(body.model_dump(include=set(WEBHOOK_FIELDS)))


@router.post("/generate", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=_ERRORS)
async def generate(
    body: GenerateSubmission, jobs: JobsDep, principal: PrincipalDep, controls: SubmitControlsDep
) -> JobAccepted:
    """Queue text generation from a prompt or chat messages; poll the job for the text (or
    follow its events, or take its webhook)."""
    params, hook = _split(body)
    return await jobs.submit(principal, DOMAIN, GENERATE, params, hook=hook, controls=controls)


@router.post("/embed", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=_ERRORS)
async def embed(
    body: EmbedSubmission, jobs: JobsDep, principal: PrincipalDep, controls: SubmitControlsDep
) -> JobAccepted:
    """Queue embeddings (L2-normalized) of one or more texts."""
    params, hook = _split(body)
    return await jobs.submit(principal, DOMAIN, EMBED, params, hook=hook, controls=controls)
