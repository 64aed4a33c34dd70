"""``POST /v1/llm/generate`` and ``POST /v1/llm/embed``: validated, then queued."""

from fastapi import APIRouter, status

from api.core.deps import JobsDep
from api.core.errors import documented
from common.contracts.jobs import JobAccepted
from common.contracts.llm import DOMAIN, EMBED, GENERATE, EmbedRequest, GenerateRequest

router = APIRouter(prefix=f"/v1/{DOMAIN}", tags=[DOMAIN])
TASKS = (GENERATE, EMBED)


@router.post(
    "/generate", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=documented(422, 503)
)
async def generate(body: GenerateRequest, jobs: JobsDep) -> JobAccepted:
    """Queue text generation from a prompt or chat messages; poll the job for the text."""
    return await jobs.submit(DOMAIN, GENERATE, body.model_dump(mode="json"))


@router.post("/embed", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted, responses=documented(422, 503))
async def embed(body: EmbedRequest, jobs: JobsDep) -> JobAccepted:
    """Queue embeddings (L2-normalized) of one or more texts."""
    return await jobs.submit(DOMAIN, EMBED, body.model_dump(mode="json"))
