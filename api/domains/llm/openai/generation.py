"""``/chat/completions`` and ``/completions``: one ``llm.generate`` job each, whole or streamed."""

import json
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from api.core.auth import Principal
from api.core.errors import ApiError
from api.core.jobs import JobService
from api.core.submit_controls import SubmitControls
from api.domains.llm.openai import jobrun
from api.domains.llm.openai.streaming import follow_text
from api.openai.protocol import ChatCompletionRequest, CompletionRequest
from common.contracts.jobs import JobView
from common.contracts.llm import GENERATE, GenerateRequest


@dataclass(frozen=True)
class Shape:
    """How one answer is drawn: chat answers carry messages and deltas, completions text."""

    chat: bool

    @property
    def object(self) -> str:
        return "chat.completion" if self.chat else "text_completion"

    @property
    def chunk_object(self) -> str:
        return "chat.completion.chunk" if self.chat else "text_completion"

    def choice(self, text: str, finish_reason: str) -> dict[str, Any]:
        if self.chat:
            message = {"role": "assistant", "content": text, "refusal": None}
            return {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        return {"index": 0, "text": text, "finish_reason": finish_reason, "logprobs": None}

    def delta(self, text: str | None, finish_reason: str | None, first: bool = False) -> dict[str, Any]:
        if not self.chat:
            return {"index": 0, "text": text or "", "finish_reason": finish_reason, "logprobs": None}
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        if text is not None:
            delta["content"] = text
        return {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}


def _stops(stop: str | list[str] | None) -> list[str]:
    return [stop] if isinstance(stop, str) else list(stop or [])


def job_params(body: ChatCompletionRequest | CompletionRequest, model: type[GenerateRequest]) -> dict[str, Any]:
    """The ``llm.generate`` params for an OpenAI request, checked by ``model`` (the app's bounded
    one); unsupported parts answer 400."""
    params: dict[str, Any] = {"temperature": body.temperature, "top_p": body.top_p, "seed": body.seed}
    params["stop"] = _stops(body.stop)
    if body.response_format is not None and body.response_format.type != "text":  # "text": no constraint
        params["response_format"] = body.response_format.model_dump(exclude_none=True)
    tokens_field = "max_tokens"
    if isinstance(body, ChatCompletionRequest):
        params["max_new_tokens"] = body.max_completion_tokens or body.max_tokens
        tokens_field = "max_completion_tokens" if body.max_completion_tokens else tokens_field
        # "developer" is OpenAI's newer name for the system role.
        params["messages"] = [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages
        ]
    else:
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) != 1:
            raise ApiError(422, "invalid_request", "prompt: one prompt per request is served")
        params["prompt"] = prompts[0]
        params["max_new_tokens"] = body.max_tokens or 16  # OpenAI's default for completions
    given = {k: v for k, v in params.items() if v is not None}
    return jobrun.validated(model, given, {"max_new_tokens": tokens_field})


def usage(result: dict[str, Any]) -> dict[str, int]:
    counts = result.get("usage") or {}
    prompt, completion = int(counts.get("prompt_tokens", 0)), int(counts.get("completion_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _answer_id(shape: Shape, job_id: str) -> str:
    # The job id inside, so an answer can be looked up as a job (GET /v1/jobs/{id}).
    return f"{'chatcmpl' if shape.chat else 'cmpl'}-{job_id}"


async def complete(
    request: Request,
    jobs: JobService,
    principal: Principal,
    shape: Shape,
    model: str,
    params: dict[str, Any],
    controls: SubmitControls,
) -> dict[str, Any]:
    """The whole answer, once the job finished."""
    job_id = await jobrun.submit(jobs, principal, GENERATE, params, controls)
    result = await jobrun.finished_result(jobs, await jobrun.wait_for(request, jobs, principal, job_id, controls))
    return answer(shape, job_id, model, result)


def answer(shape: Shape, job_id: str, model: str, result: dict[str, Any]) -> dict[str, Any]:
    """The whole answer to a request whose job gave ``result`` (a batch's output lines too)."""
    return {
        "id": _answer_id(shape, job_id),
        "object": shape.object,
        "created": int(time.time()),
        "model": model,
        "choices": [shape.choice(result["text"], result["finish_reason"])],
        "usage": usage(result),
        "system_fingerprint": None,
    }


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


async def stream(
    request: Request,
    jobs: JobService,
    principal: Principal,
    shape: Shape,
    body: ChatCompletionRequest | CompletionRequest,
    params: dict[str, Any],
    controls: SubmitControls,
) -> StreamingResponse:
    """Chunks as the job's progress events bring text, the finish reason, ``usage`` when asked,
    then ``[DONE]``. A retried request (same ``Idempotency-Key``) streams its job's text from the start."""
    job_id = await jobrun.submit(jobs, principal, GENERATE, params, controls)  # refusals answer before the stream
    state = request.app.state
    head = {"id": _answer_id(shape, job_id), "object": shape.chunk_object, "created": int(time.time())}
    head["model"] = body.model
    include_usage = bool((body.stream_options or {}).get("include_usage"))

    async def chunks() -> AsyncIterator[str]:
        done = False
        try:
            if shape.chat:
                yield _sse({**head, "choices": [shape.delta("", None, first=True)]})
            shown = ""
            text = follow_text(jobs, state.redis, job_id, params.get("stop", []), state.settings.events_heartbeat_s)
            async with aclosing(text) as updates:
                async for update in updates:
                    if len(update.text) > len(shown):
                        yield _sse({**head, "choices": [shape.delta(update.text[len(shown) :], None)]})
                        shown = update.text
                    if update.ended:
                        done = True
                        for chunk in _ending(shape, head, job_id, update.finished, include_usage):
                            yield chunk
            yield "data: [DONE]\n\n"
        finally:
            # The caller went away mid-stream (or the stream broke) and will not retry: stop the job.
            if not done and jobrun.cancels_on_disconnect(controls):
                await jobrun.cancel_quietly(jobs, principal, job_id)

    return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _ending(shape: Shape, head: dict[str, Any], job_id: str, view: JobView | None, include_usage: bool) -> list[str]:
    """The last chunks: the finish reason (and ``usage`` when asked), or how the job ended instead."""
    try:
        result = jobrun.result_of(view) if view is not None else None
    except ApiError:
        result = None
    if view is None or result is None:
        status = view.status if view is not None else "expired"
        return [_sse({"error": {"message": f"job {job_id} ended: {status}"}})]
    ending = [_sse({**head, "choices": [shape.delta(None, result["finish_reason"])]})]
    if include_usage:
        ending.append(_sse({**head, "choices": [], "usage": usage(result)}))
    return ending
