"""The llm domain's batch endpoints (``api.openai.batches``): chat completions, completions and
embeddings, each held to its interactive route's checks and answered in its shape."""

from typing import Any

from api.core.auth import Principal
from api.core.config import ApiSettings
from api.core.errors import ApiError
from api.domains.llm.openai import generation, jobrun
from api.domains.llm.openai.config import get_openai_compat_settings
from api.domains.llm.openai.embeddings import items
from api.openai.batches.endpoints import Endpoint, LineJob, LineRefused, parsed, refused
from api.openai.protocol import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from api.uploads.service import UploadService
from common.contracts.llm import EMBED, GENERATE, LlmLimits, bounded


class _Generation(Endpoint):
    domain = "llm"

    def __init__(self, settings: ApiSettings, chat: bool) -> None:
        self.shape = generation.Shape(chat=chat)
        self.url = "/v1/chat/completions" if chat else "/v1/completions"
        self.request = ChatCompletionRequest if chat else CompletionRequest
        self.model = bounded(settings.domain_settings(LlmLimits)).generate

    def _params(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        request = parsed(self.request, body)
        served = get_openai_compat_settings().chat_model
        if request.model != served:
            raise LineRefused(f"the model {request.model!r} does not exist here; this API serves {served!r}", "model")
        if request.stream:
            raise LineRefused("stream: a batch line is answered whole; leave stream out", "stream")
        try:
            return generation.job_params(request, self.model), request.model
        except ApiError as exc:
            raise refused(exc) from None

    def check(self, body: dict[str, Any]) -> None:
        self._params(body)

    async def job(self, body: dict[str, Any], principal: Principal) -> LineJob:
        params, model = self._params(body)
        return LineJob(self.domain, GENERATE, params, meta={"model": model})

    def answer(self, job_id: str, result: dict[str, Any], meta: dict[str, str]) -> dict[str, Any]:
        return generation.answer(self.shape, job_id, meta.get("model", ""), result)


class _Embeddings(Endpoint):
    url = "/v1/embeddings"
    domain = "llm"

    def __init__(self, settings: ApiSettings) -> None:
        self.model = bounded(settings.domain_settings(LlmLimits)).embed

    def _params(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        request = parsed(EmbeddingRequest, body)
        served = get_openai_compat_settings().embedding_model
        if request.model != served:
            raise LineRefused(f"the model {request.model!r} does not exist here; this API serves {served!r}", "model")
        texts = [request.input] if isinstance(request.input, str) else request.input
        try:
            params = jobrun.validated(self.model, {"texts": texts})
        except ApiError as exc:
            raise refused(exc) from None
        return params, {"model": request.model, "encoding": request.encoding_format}

    def check(self, body: dict[str, Any]) -> None:
        self._params(body)

    async def job(self, body: dict[str, Any], principal: Principal) -> LineJob:
        params, meta = self._params(body)
        return LineJob(self.domain, EMBED, params, meta=meta)

    def answer(self, job_id: str, result: dict[str, Any], meta: dict[str, str]) -> dict[str, Any]:
        usage = {"prompt_tokens": 0, "total_tokens": 0}  # as the route: the embedder counts none
        data = items(result, meta.get("encoding", "float"))
        return {"object": "list", "data": data, "model": meta.get("model", ""), "usage": usage}


def endpoints(settings: ApiSettings, uploads: UploadService) -> list[Endpoint]:
    return [_Generation(settings, chat=True), _Generation(settings, chat=False), _Embeddings(settings)]
