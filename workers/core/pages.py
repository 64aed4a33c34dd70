"""A document's result, from its pages' records: in page order, each page's text and lines,
or its error; the document fails only when every page did. The OCR domain's document run reads
it, and so does an extraction's llm run (a two-stage job: ``common.lifecycle``)."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from common import keys
from common.contracts.ocr import DocumentResult, PageError, PageResult
from common.jobstore import JobStore
from common.results import ResultRef
from common.scripts import text
from workers.core.jobs import JobInputError

_FIELDS = ("status", "result", "error", "params", "started_at", "finished_at", "result_ref")


def _page(fields: list[str | None], read_stored: Callable[[str], bytes | None]) -> tuple[PageResult, str | None]:
    status, result, error, params, _, _, ref = fields
    index = json.loads(params or "{}").get("index", 0) + 1
    if status == "succeeded" and ref and not result:  # a page's result large enough for the store
        result = (read_stored(ResultRef.model_validate_json(ref).key) or b"").decode() or None
    if status == "succeeded" and result:
        found = json.loads(result)
        model = found.pop("model", None)
        found.pop("elapsed_ms", None)
        return PageResult.model_validate(found), model
    reason: dict[str, Any] = json.loads(error) if error else {"type": status or "missing", "message": "no result"}
    code = {"TimeLimitExceeded": "time_limit", "JobInputError": "page_unreadable"}.get(reason.get("type", ""), "failed")
    return PageResult(index=index, error=PageError(code=code, message=str(reason.get("message", "")))), None


def document_result(store: JobStore, job_id: str, read_stored: Callable[[str], bytes | None]) -> dict[str, Any]:
    page_ids = [text(p) for p in store.client.lrange(keys.job(job_id) + keys.PAGES_SUFFIX, 0, -1)]
    with store.client.pipeline(transaction=False) as pipe:
        for page_id in page_ids:
            pipe.hmget(keys.job(page_id), _FIELDS)
        rows = pipe.execute()
    pages, models, starts, ends = [], set(), [], []
    for fields in rows:
        page, model = _page(fields, read_stored)
        pages.append(page)
        if model:
            models.add(model)
        if fields[4] and fields[5]:
            starts.append(datetime.fromisoformat(fields[4]))
            ends.append(datetime.fromisoformat(fields[5]))
    failed = sum(p.error is not None for p in pages)
    if pages and failed == len(pages):
        raise JobInputError(f"every page failed; the first: {pages[0].error.message if pages[0].error else ''}")
    elapsed = (max(ends) - min(starts)).total_seconds() * 1000 if starts else 0.0
    result = DocumentResult(
        pages=sorted(pages, key=lambda p: p.index),
        text="\f".join(p.text or "" for p in sorted(pages, key=lambda p: p.index)),
        pages_failed=failed,
        model=", ".join(sorted(models)) or "none",
        elapsed_ms=round(elapsed, 1),
    )
    return result.model_dump(exclude_none=True)
