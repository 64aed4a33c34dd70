"""``/embeddings``: one ``llm.embed`` job per request, in OpenAI's list shape."""

import base64
import struct
from typing import Any

from fastapi import Request

from api.core.auth import Principal
from api.core.jobs import JobService
from api.core.submit_controls import SubmitControls
from api.domains.llm.openai import jobrun
from api.openai.protocol import EmbeddingRequest
from common.contracts.llm import EMBED, LlmLimits, bounded


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    # The openai package asks for base64 (little-endian float32) unless told otherwise.
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


async def embeddings(
    request: Request, jobs: JobService, principal: Principal, body: EmbeddingRequest, controls: SubmitControls
) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    requests = bounded(request.app.state.settings.domain_settings(LlmLimits))  # the app's caps
    params = jobrun.validated(requests.embed, {"texts": texts})
    job_id = await jobrun.submit(jobs, principal, EMBED, params, controls)
    result = jobrun.result_of(await jobrun.wait_for(request, jobs, principal, job_id, controls))
    data = [
        {"object": "embedding", "index": i, "embedding": _encoded(vector, body.encoding_format)}
        for i, vector in enumerate(result["embeddings"])
    ]
    # The embedder does not count tokens; zeros rather than a made-up number.
    return {"object": "list", "data": data, "model": body.model, "usage": {"prompt_tokens": 0, "total_tokens": 0}}
