"""Results too large for a job's record: kept in the blob store, the record naming them.

A worker whose result's JSON passes ``RESULT_INLINE_MAX_BYTES`` stores it before ``finish``
(``results/<job id>/<attempt>.json``: one object per run, so a run taken for dead can neither
overwrite nor delete the result of the run that replaced it), and ``finish`` records a
``ResultRef`` in the place of ``result``. Whoever shows the job whole writes the job's JSON with
the stored bytes spliced in where ``result`` goes (``around``), a chunk at a time: a client sees
the JSON a small result gives, and no process parses or holds the result whole. The reconciler's
leader deletes the objects no record names (``common.blob_sweeper``): a record expires
``JOB_TTL_S`` after its job ended, and its result goes with it.
"""

import json
import uuid
from typing import Any

from pydantic import BaseModel

from common.contracts.jobs import JobView

# Where a stored result goes in a document before it is cut there: no data can hold it by chance.
PLACE = f"dq-stored-result-{uuid.uuid4().hex}"


class ResultRef(BaseModel):
    """A result in the blob store: its key and size in bytes."""

    key: str
    size: int


def encode(result: Any) -> bytes:
    """A result as stored: compact JSON on one line (an SSE ``data:`` line carries it as it is)."""
    return json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def job_document(view: JobView) -> dict[str, Any]:
    """The job as ``GET /v1/jobs/{id}`` shows it, with ``PLACE`` where its stored result goes."""
    return {**view.model_dump(mode="json"), "result": PLACE, "result_omitted": False}


def around(document: Any) -> tuple[bytes, bytes]:
    """``document``'s JSON (as the API writes JSON) cut where ``PLACE`` stands: the result goes between."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    head, found, tail = text.partition(json.dumps(PLACE))
    if not found or PLACE in tail:
        raise ValueError("a document to cut holds the stored result's place once")
    return head.encode(), tail.encode()
