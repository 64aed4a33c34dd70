"""The ``domainq`` subcommands other than ``ocr``: each takes the client and parsed arguments,
prints, and answers an exit code (errors are raised; ``cli.main`` maps them to codes)."""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.status import Status
from rich.table import Table

from domainq_client._common import DocumentOptions, SubmitOptions, finished_result
from domainq_client._errors import NotSupportedError, WaitTimeout
from domainq_client._models import ExtractResult, JobView
from domainq_client._sync import Client, Job

# Soft-wrapped: rich never breaks a line itself (a path or an id split at column 80 of a pipe
# could not be copied or grepped); the terminal wraps what is too long for it.
stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def _print_json(value: Any) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _messages(args: argparse.Namespace) -> dict[str, Any]:
    if args.raw:
        return {"prompt": args.prompt}
    messages = [{"role": "system", "content": args.system}] if args.system else []
    return {"messages": [*messages, {"role": "user", "content": args.prompt}]}


def _shown(text: str) -> str:
    # A token cut in the middle of a multi-byte character decodes to U+FFFD: wait for the rest.
    return text.rstrip("\ufffd")


def _stream(job: Job) -> Any:
    printed = ""
    for event in job.events():
        text = _shown(str((event.job.progress or {}).get("text", "")))
        if event.type == "progress" and text.startswith(printed) and len(text) > len(printed):
            sys.stdout.write(text[len(printed) :])
            sys.stdout.flush()
            printed = text
    result = finished_result(job.view)
    rest = result.text[len(printed) :] if result.text.startswith(printed) else ""
    sys.stdout.write(rest + "\n")
    sys.stdout.flush()
    return result


def _options(args: argparse.Namespace) -> SubmitOptions:
    return SubmitOptions(
        idempotency_key=args.idempotency_key,
        cancel_after=args.cancel_after,
        webhook=args.webhook,
        priority=args.priority,
    )


def llm_generate(client: Client, args: argparse.Namespace) -> int:
    job = client.llm.generate(
        **_messages(args),
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        seed=args.seed,
        options=_options(args),
    )
    print(f"job {job.id}", file=sys.stderr, flush=True)
    if args.stream:
        _stream(job)
    else:
        print(job.wait(args.timeout).text, flush=True)
    return 0


# ``domainq extract`` reads its job this often (a long-poll that answers at once when it ends) to
# show the stage: unlike the events stream, a read that answers in time keeps --timeout exact.
STAGE_POLL_S = 0.5


def _stage(view: JobView) -> str:
    """What an extraction is doing, in a few words: ``queued``, ``ocr 1/2 pages``, ``llm 40 tokens``."""
    progress = view.progress or {}
    if progress.get("stage") == "llm":
        tokens = progress.get("completion_tokens")
        return "llm" + (f" {tokens} tokens" if isinstance(tokens, int) else "")
    if "pages_total" in progress:
        return f"ocr {progress.get('pages_done', 0)}/{progress['pages_total']} pages"
    if view.status == "queued" and view.queue_position is not None:
        return f"queued ({view.queue_position} ahead)"
    return view.status


class _StageLine:
    """A job's stage on stderr: a spinner on a terminal; elsewhere (a log, a pipe) a line per change."""

    def __init__(self) -> None:
        self._status: Status | None = None
        self._shown = ""

    def __enter__(self) -> "_StageLine":
        if stderr.is_terminal:
            self._status = stderr.status("submitted")
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()

    def show(self, text: str) -> None:
        if text == self._shown:
            return
        self._shown = text
        if self._status is not None:
            self._status.update(text)
        else:
            stderr.print(text)


def _schema(path: str) -> dict[str, Any] | str:
    """The JSON Schema in the file at ``path``, or why it cannot be one."""
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return f"--schema {path}: {exc.strerror or exc}"
    except ValueError as exc:  # UnicodeDecodeError too
        return f"--schema {path}: not JSON ({exc})"
    return (
        schema
        if isinstance(schema, dict)
        else f"--schema {path}: a JSON Schema is an object, not {type(schema).__name__}"
    )


def extract(client: Client, args: argparse.Namespace) -> int:
    schema = _schema(args.schema)
    if isinstance(schema, str):
        stderr.print(f"[red]error:[/] {schema}")
        return 2
    given = {"document_url": args.file} if args.file.startswith(("http://", "https://")) else {"file": args.file}
    job = client.extract(
        **given,
        schema=schema,
        instructions=args.instructions,
        max_new_tokens=args.max_new_tokens,
        document=DocumentOptions(pages=args.pages, dpi=args.dpi, mode=args.mode),
        options=_options(args),
    )
    stderr.print(f"job {job.id}")
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    with _StageLine() as line:
        line.show(_stage(job.view))
        while not job.view.finished:
            left = STAGE_POLL_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"job {job.id} still {_stage(job.view)} after {args.timeout} s", job.view)
            job.refresh(wait_s=min(STAGE_POLL_S, max(left, 0.01)))
            line.show(_stage(job.view))
    result: ExtractResult = finished_result(job.view)
    shown = dataclasses.asdict(result) if args.full else result.data
    if args.full or result.data is not None:
        sys.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    if result.data is None:
        stderr.print(
            f"[red]error:[/] job {job.id} was cut short (finish_reason {result.finish_reason}) before its JSON "
            f"was complete: no data; a larger --max-new-tokens may fit it"
        )
        return 1
    return 0


def llm_embed(client: Client, args: argparse.Namespace) -> int:
    result = client.llm.embed(args.texts, options=_options(args)).wait(args.timeout)
    for text, vector in zip(args.texts, result.embeddings, strict=True):
        _print_json({"text": text, "model": result.model, "embedding": vector})
    return 0


def jobs_get(client: Client, args: argparse.Namespace) -> int:
    _print_json(client.jobs.get(args.id).view)
    return 0


def jobs_wait(client: Client, args: argparse.Namespace) -> int:
    job = client.jobs.get(args.id)
    try:
        job.wait(args.timeout)
    finally:
        _print_json(job.view)
    return 0


def jobs_cancel(client: Client, args: argparse.Namespace) -> int:
    _print_json(client.jobs.cancel(args.id).view)
    return 0


def jobs_list(client: Client, args: argparse.Namespace) -> int:
    try:
        page = client.jobs.list(limit=args.limit, cursor=args.cursor, status=args.status, domain=args.domain)
    except NotSupportedError:
        print(f"{client.url} does not support listing jobs (no GET /v1/jobs); use 'jobs get ID'", file=sys.stderr)
        return 1
    for view in page.jobs:
        _print_json(view)
    if page.next_cursor:
        print(f"more: domainq jobs list --cursor {page.next_cursor}", file=sys.stderr)
    return 0


def _wait_estimate(domain: dict[str, Any]) -> str:
    # The server's estimate where it gives one (the job-contract work adds it); else unknown.
    for name in ("estimated_wait_s", "eta_s"):
        if isinstance(domain.get(name), int | float):
            return f"{domain[name]:.0f} s"
    return "n/a" if domain["queue_depth"] else "0 s"


def domains(client: Client, args: argparse.Namespace) -> int:
    table = Table("domain", "tasks", "depth", "running", "workers", "est. wait")
    for d in client.domains():
        table.add_row(
            d["name"],
            ", ".join(d["tasks"]),
            str(d["queue_depth"]),
            str(d["running"]),
            str(d["workers_online"]),
            _wait_estimate(d),
        )
    stdout.print(table)
    return 0


def _limits(args: argparse.Namespace) -> dict[str, float | None]:
    return {
        "rate_limit_per_minute": args.rate_limit_per_minute,
        "max_jobs_in_flight": args.max_jobs_in_flight,
        "weight": args.weight,
    }


def keys_create(client: Client, args: argparse.Namespace) -> int:
    _print_json(client.keys.create(args.name, args.role, **_limits(args)))
    return 0


def keys_update(client: Client, args: argparse.Namespace) -> int:
    changes = {k: v for k, v in _limits(args).items() if v is not None}
    _print_json(client.keys.update(args.id, **changes))
    return 0


def keys_list(client: Client, args: argparse.Namespace) -> int:
    for key in client.keys.list():
        _print_json(key)
    return 0


def keys_revoke(client: Client, args: argparse.Namespace) -> int:
    _print_json(client.keys.revoke(args.id))
    return 0


def keys_webhook_secret(client: Client, args: argparse.Namespace) -> int:
    if args.rotate:
        _print_json(client.keys.rotate_webhook_secret(args.keep_previous_s))
    else:
        _print_json(client.keys.webhook_secret())
    return 0
