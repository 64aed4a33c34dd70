"""An extraction's llm stage: the request it makes of the generator from its pages' text, and
the result it gives (``llm.extract``; the job's OCR stage ran its pages first:
``common.lifecycle``).

The whole text goes to the model in one request, under the JSON schema as a grammar (the answer
is always valid JSON for it, unless cut by ``max_new_tokens``). A text too long for the model's
context fails the job as ``JobInputError`` naming the sizes (``prompts.PromptEncoder``); it is not
split into chunks, since a schema's fields may need the whole document at once (a total at the
end, a name at the top).
"""

import json
from typing import Any

from pydantic import ValidationError

from common.contracts.llm import ExtractModels, ExtractRequest, ExtractResult, GenerateRequest, GenerateResult
from workers.core.jobs import JobInputError

SYSTEM = (
    "You read the text of a document and answer with JSON that follows the given schema. "
    "Copy names, dates and numbers exactly as they appear in the text."
)


def generate_request(request: ExtractRequest, text: str, model: type[GenerateRequest]) -> GenerateRequest:
    """The generation an extraction asks for (``model``: the worker's bounded request model)."""
    task = request.instructions or "Extract the data the schema asks for."
    user = f"{task}\n\nJSON schema:\n{json.dumps(request.schema_)}\n\nThe document's text:\n{text}"
    spec = {"name": "extraction", "schema": request.schema_, "strict": True}
    params = {
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "max_new_tokens": request.max_new_tokens,
        "temperature": 0.0,
        "response_format": {"type": "json_schema", "json_schema": spec},
    }
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise JobInputError(f"the document's text cannot go to the model ({where}: {first['msg']})") from None


def result(document: dict[str, Any], generated: GenerateResult) -> ExtractResult:
    """The extraction's result: the JSON (``None`` when cut short before it closed), and where it came from."""
    try:
        data = json.loads(generated.text, strict=False)  # the grammar lets control characters into strings
    except ValueError:
        data = None
    return ExtractResult(
        data=data,
        text=document["text"],
        pages=len(document["pages"]),
        pages_failed=document["pages_failed"],
        models=ExtractModels(ocr=document["model"], llm=generated.model),
        finish_reason=generated.finish_reason,
        usage=generated.usage,
        elapsed_ms=document["elapsed_ms"] + generated.elapsed_ms,
    )
