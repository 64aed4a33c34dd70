"""``/openai/v1``: chat completions, completions, embeddings and models, as OpenAI's clients call them.

Included with the llm domain (the discovery walk finds this sub-package); each call is an llm
job (queued, batched, metered and isolated like any other) that the route waits for, or
streams, on the caller's behalf. ``Idempotency-Key`` and ``Cancel-After`` work as on every
submit: a retry with the same key and body answers the same job (and a caller that sent a key
and left does not cancel it: it means to come back).
"""

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.core.auth import PrincipalDep
from api.core.config import ApiSettings
from api.core.deps import JobsDep
from api.core.errors import ApiError
from api.core.submit_controls import SubmitControlsDep
from api.domains.llm.openai import generation
from api.domains.llm.openai.config import OpenAICompatSettings, get_openai_compat_settings
from api.domains.llm.openai.embeddings import embeddings
from api.openai.protocol import ChatCompletionRequest, CompletionRequest, EmbeddingRequest, ModelCard, ModelList
from common.contracts.llm import LlmLimits, bounded

# Left out of /openapi.json: OpenAI's API reference documents these routes, and their errors
# take OpenAI's shape rather than the envelope the document promises for every other route.
router = APIRouter(prefix="/openai/v1", tags=["openai"], include_in_schema=False)
_STARTED = int(time.time())


def build_router(settings: ApiSettings) -> APIRouter:
    """The OpenAI-compatible routes (each reads the app's llm limits from its settings)."""
    return router


def max_body_bytes(settings: ApiSettings) -> int:
    """The llm domain's body cap: the same prompts and texts, in OpenAI's shapes."""
    return settings.domain_settings(LlmLimits).max_body_bytes


def _model(requested: str, served: str) -> None:
    if requested != served:
        raise ApiError(
            404, "model_not_found", f"the model {requested!r} does not exist here; this API serves {served!r}"
        )


def _settings() -> OpenAICompatSettings:
    return get_openai_compat_settings()


@router.get("/models", response_model=ModelList)
async def list_models(principal: PrincipalDep) -> ModelList:
    """The generation and embedding models served (``OPENAI_COMPAT_*_MODEL``)."""
    s = _settings()
    return ModelList(
        data=[ModelCard(id=s.chat_model, created=_STARTED), ModelCard(id=s.embedding_model, created=_STARTED)]
    )


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    jobs: JobsDep,
    principal: PrincipalDep,
    controls: SubmitControlsDep,
) -> dict[str, Any] | StreamingResponse:
    """A chat answer, whole or streamed (``stream: true``: server-sent chunks, then ``[DONE]``)."""
    return await _generate(generation.Shape(chat=True), body, request, jobs, principal, controls)


@router.post("/completions", response_model=None)
async def completions(
    body: CompletionRequest, request: Request, jobs: JobsDep, principal: PrincipalDep, controls: SubmitControlsDep
) -> dict[str, Any] | StreamingResponse:
    """A raw-prompt completion, whole or streamed."""
    return await _generate(generation.Shape(chat=False), body, request, jobs, principal, controls)


async def _generate(
    shape: generation.Shape,
    body: ChatCompletionRequest | CompletionRequest,
    request: Request,
    jobs: JobsDep,
    principal: PrincipalDep,
    controls: SubmitControlsDep,
) -> dict[str, Any] | StreamingResponse:
    _model(body.model, _settings().chat_model)
    requests = bounded(request.app.state.settings.domain_settings(LlmLimits))  # the app's caps
    params = generation.job_params(body, requests.generate)
    if body.stream:
        return await generation.stream(request, jobs, principal, shape, body, params, controls)
    return await generation.complete(request, jobs, principal, shape, body.model, params, controls)


@router.post("/embeddings", response_model=None)
async def create_embeddings(
    body: EmbeddingRequest, request: Request, jobs: JobsDep, principal: PrincipalDep, controls: SubmitControlsDep
) -> dict[str, Any] | StreamingResponse:
    """Embeddings of a string or a list of strings."""
    _model(body.model, _settings().embedding_model)
    return await embeddings(request, jobs, principal, body, controls)
