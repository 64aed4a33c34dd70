"""``POST /v1/llm/generate`` and ``POST /v1/llm/embed``: validated, then queued."""

from fastapi import APIRouter, status

from api.core.auth import PrincipalDep
from api.core.deps import JobsDep
from api.core.errors import documented
from common.contracts.jobs import JobAccepted
from common.contracts.llm import DOMAIN, EMBED, GENERATE, EmbedRequest, GenerateRequest, get_llm_limits

router = APIRouter(prefix=f"/v1/{DOMAIN}", tags=[DOMAIN])
TASKS = (GENERATE, EMBED)
# Larger bodies are refused (413) before they are read: prompts and texts are capped anyway.
MAX_BODY_BYTES = get_llm_limits().max_body_bytes

_ERRORS = documented(413, 422, 429, 503)


@router.post("/generate", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=_ERRORS)
async def generate(body: GenerateRequest, jobs: JobsDep, principal: PrincipalDep) -> JobAccepted:
    """Queue text generation from a prompt or chat messages; poll the job for the text."""
    return await jobs.submit(principal, DOMAIN, GENERATE, body.model_dump(mode="json"))


@router.post("/embed", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=_ERRORS)
async def embed(body: EmbedRequest, jobs: JobsDep, principal: PrincipalDep) -> JobAccepted:
    """Queue embeddings (L2-normalized) of one or more texts."""
    return await jobs.submit(principal, DOMAIN, EMBED, body.model_dump(mode="json"))
