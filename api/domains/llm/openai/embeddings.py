"""``/embeddings``: one ``llm.embed`` job per request, in OpenAI's list shape.

A result in the blob store (many texts: ``common.results``) is reshaped as it streams, a vector
at a time, so the answer holds a chunk and a vector, never the whole result.
"""

import base64
import json
import struct
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from api.core.auth import Principal
from api.core.jobs import JobService
from api.core.submit_controls import SubmitControls
from api.domains.llm.openai import jobrun
from api.openai.protocol import EmbeddingRequest
from common import results
from common.contracts.jobs import JobStatus
from common.contracts.llm import EMBED, LlmLimits, bounded

# How a stored embed result begins: the worker writes EmbedResult's fields in order, compactly.
_STORED_START = b'{"embeddings":['


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    # The openai package asks for base64 (little-endian float32) unless told otherwise.
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def _item(index: int, vector: list[float], encoding: str) -> dict[str, Any]:
    return {"object": "embedding", "index": index, "embedding": _encoded(vector, encoding)}


async def embeddings(
    request: Request, jobs: JobService, principal: Principal, body: EmbeddingRequest, controls: SubmitControls
) -> dict[str, Any] | StreamingResponse:
    texts = [body.input] if isinstance(body.input, str) else body.input
    requests = bounded(request.app.state.settings.domain_settings(LlmLimits))  # the app's caps
    params = jobrun.validated(requests.embed, {"texts": texts})
    job_id = await jobrun.submit(jobs, principal, EMBED, params, controls)
    record = await jobrun.wait_for(request, jobs, principal, job_id, controls)
    # The embedder does not count tokens; zeros rather than a made-up number.
    usage = {"prompt_tokens": 0, "total_tokens": 0}
    answer: dict[str, Any] = {"object": "list", "data": [], "model": body.model, "usage": usage}
    if record.status is JobStatus.succeeded and record.result_ref is not None:
        stored = await jobs.results.open(job_id, record.result_ref)  # a store away: 503 before the answer starts
        head, tail = results.around({**answer, "data": results.PLACE})
        return StreamingResponse(_streamed(head, stored, body.encoding_format, tail), media_type="application/json")
    result = await jobrun.finished_result(jobs, record)
    answer["data"] = items(result, body.encoding_format)
    return answer


def items(result: dict[str, Any], encoding: str) -> list[dict[str, Any]]:
    """An embed result's vectors as OpenAI's list items (a batch's output lines too)."""
    return [_item(i, vector, encoding) for i, vector in enumerate(result["embeddings"])]


async def _streamed(head: bytes, stored: AsyncIterable[bytes], encoding: str, tail: bytes) -> AsyncIterator[bytes]:
    yield head + b"["
    index = 0
    async for vector in vectors(stored):
        yield (b"," if index else b"") + json.dumps(_item(index, vector, encoding), separators=(",", ":")).encode()
        index += 1
    yield b"]" + tail


async def vectors(stored: AsyncIterable[bytes]) -> AsyncIterator[list[float]]:
    """The vectors of a stored embed result, one at a time, as its chunks come."""
    buffer, at, begun, ended = b"", 0, False, False
    async for chunk in stored:
        if ended:
            continue  # what follows the list (dim, model) is not needed; read to the end all the same
        buffer = buffer[at:] + chunk
        at = 0
        if not begun:
            if len(buffer) < len(_STORED_START):
                continue
            if not buffer.startswith(_STORED_START):
                raise ValueError(f"a stored embed result begins {buffer[:20]!r}, not {_STORED_START!r}")
            at, begun = len(_STORED_START), True
        while at < len(buffer):
            if buffer[at : at + 1] == b",":
                at += 1
                continue
            if buffer[at : at + 1] == b"]":
                ended = True
                break
            end = buffer.find(b"]", at)  # a vector holds numbers only: its first "]" closes it
            if end < 0:
                break
            yield json.loads(buffer[at : end + 1])
            at = end + 1
    if not ended:
        raise ValueError("a stored embed result ended inside its list of vectors")
