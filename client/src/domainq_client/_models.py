"""Typed views of what the API answers, as plain dataclasses (no pydantic on the client).

They mirror the server's contracts (``common/contracts``); ``tests/client/test_models_drift.py``
compares them with the served OpenAPI document and the contracts' JSON schemas, so a field
added, renamed or retyped on one side fails a test instead of drifting.
"""

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
FINISHED = frozenset({"succeeded", "failed", "canceled", "expired"})


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [k for k in typing.get_args(kind) if k is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_convert(item, v) for v in value]
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return from_dict(kind, value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is float:
        return float(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """``cls`` from a JSON object; unknown keys (a newer server's fields) are ignored."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: _convert(hints[k], v) for k, v in data.items() if k in known})


@dataclass(frozen=True)
class JobErrorInfo:
    """Why a job failed: the exception type and its message (server: ``JobError``)."""

    type: str
    message: str


@dataclass(frozen=True)
class WebhookState:
    """Where a job's webhook deliveries stand (the latest delivery's)."""

    url: str
    events_filter: list[str]
    last_status: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class JobView:
    """A job's record as ``GET /v1/jobs/{id}`` answers it."""

    id: str
    domain: str
    task: str
    status: str
    created_at: datetime
    result: dict[str, Any] | None = None
    # True in a listing for a result too large to list: ``jobs.get(id)`` brings the job with it.
    result_omitted: bool = False
    error: JobErrorInfo | None = None
    progress: dict[str, Any] | None = None
    worker: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_at: datetime | None = None  # its Cancel-After deadline
    priority: str = "interactive"  # or "batch": runs when no interactive job waits
    queue_position: int | None = None  # queued: jobs that start before it (0: next)
    eta_s: float | None = None  # queued: about how long until it starts
    webhook: WebhookState | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: list[list[float]]


@dataclass(frozen=True)
class RecognizeResult:
    """``ocr.recognize``: the text, line by line with boxes."""

    text: str
    lines: list[OcrLine]
    model: str
    elapsed_ms: float
    files: list[str] | None = None  # "searchable.pdf" (output="pdf"): jobs.download(id, name, path)


@dataclass(frozen=True)
class PageError:
    """Why one page of a document failed (the others are read all the same)."""

    code: str
    message: str


@dataclass(frozen=True)
class PageResult:
    """One page of a document: its text and lines, or ``error``; ``index`` counts from 1."""

    index: int
    width: int | None = None
    height: int | None = None
    text: str | None = None
    lines: list[OcrLine] | None = None
    source: str | None = None  # "ocr", or "pdf": the page's own text layer
    error: PageError | None = None


@dataclass(frozen=True)
class DocumentResult:
    """``ocr`` of a document (PDF, multi-page TIFF): its pages in order; ``text`` joins them
    with form feeds."""

    pages: list[PageResult]
    text: str
    pages_failed: int
    model: str
    elapsed_ms: float
    files: list[str] | None = None  # e.g. "searchable.pdf" (output="pdf"): jobs.download(id, name, path)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class GenerateResult:
    """``llm.generate``: the text and why it stopped."""

    text: str
    finish_reason: str
    usage: Usage
    model: str
    elapsed_ms: float
    batch_size: int = 1
    engine: str = ""  # vllm or transformers


@dataclass(frozen=True)
class EmbedResult:
    """``llm.embed``: one L2-normalized vector per text, in order."""

    embeddings: list[list[float]]
    dim: int
    model: str


@dataclass(frozen=True)
class ExtractModels:
    """The models of an extraction's two stages."""

    ocr: str
    llm: str


@dataclass(frozen=True)
class ExtractResult:
    """``extract``: JSON valid against the schema (``data``; ``None`` when ``finish_reason`` is
    ``length``: cut short), the OCR text it was read from (pages joined by form feeds), both models."""

    data: Any
    text: str
    pages: int
    pages_failed: int
    models: ExtractModels
    finish_reason: str
    usage: Usage
    elapsed_ms: float


@dataclass(frozen=True)
class Event:
    """One live event of a job: ``status``, ``progress`` or ``done``; ``job`` is its view then."""

    type: str
    job: JobView
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobPage:
    """One page of ``jobs.list``; pass ``next_cursor`` for the next (``None``: the last page)."""

    jobs: list[JobView]
    next_cursor: str | None = None


@dataclass(frozen=True)
class FileObject:
    """A file of OpenAI's Files API (``/openai/v1/files``): times are Unix seconds."""

    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    expires_at: int
    status: str = "processed"
    object: str = "file"


# A batch in one of these stays there; ``completed`` may still hold failed lines.
BATCH_FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class BatchRequestCounts:
    total: int = 0
    completed: int = 0
    failed: int = 0


@dataclass(frozen=True)
class BatchError:
    """One reason a batch's file was refused: ``line`` counts from 1 (``None``: the whole file)."""

    message: str
    code: str | None = None
    param: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class BatchErrors:
    data: list[BatchError]
    object: str = "list"


@dataclass(frozen=True)
class Batch:
    """A batch as ``/openai/v1/batches`` answers it (OpenAI's batch object; times are Unix seconds)."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    created_at: int
    object: str = "batch"
    errors: BatchErrors | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: BatchRequestCounts = field(default_factory=BatchRequestCounts)
    metadata: dict[str, str] | None = None

    @property
    def finished(self) -> bool:
        return self.status in BATCH_FINISHED

    @property
    def lines_done(self) -> int:
        """Lines that ended, well or not."""
        return self.request_counts.completed + self.request_counts.failed


@dataclass(frozen=True)
class BatchPage:
    """One page of ``batches.list``, newest first; pass ``last_id`` as ``after`` while ``has_more``."""

    data: list[Batch]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


# What each task's result parses into; other tasks' results stay plain dicts.
RESULT_TYPES: dict[tuple[str, str], type] = {
    ("ocr", "recognize"): RecognizeResult,
    ("ocr", "document"): DocumentResult,
    ("ocr", "page"): PageResult,  # one page job of a document's
    ("llm", "generate"): GenerateResult,
    ("llm", "embed"): EmbedResult,
    ("llm", "extract"): ExtractResult,
}


def typed_result(view: JobView) -> Any:
    """The job's result as its task's dataclass (a dict for tasks this client does not know)."""
    kind = RESULT_TYPES.get((view.domain, view.task))
    if view.result is None or kind is None:
        return view.result
    return from_dict(kind, view.result)
