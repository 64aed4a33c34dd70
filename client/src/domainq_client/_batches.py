"""``domainq batch``: OpenAI's Batch API from the shell. ``submit`` a JSONL file of requests and
follow it with a progress bar (lines done of the batch's total), then save its output and error
files; ``list``, ``get``, ``cancel``, ``results``; and ``ocr``, a batch built from a folder of scans."""

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from domainq_client._batch import expand
from domainq_client._commands import _print_json, stderr
from domainq_client._errors import APIError, DomainqError
from domainq_client._models import Batch
from domainq_client._sync import Client

OK, FAILED, INTERRUPTED = 0, 1, 130
OCR_ENDPOINT = "/v1/ocr/recognize"
# Scans are uploaded with OpenAI's ``user_data`` purpose: such a file lives 30 days, past any
# batch's 24 h window (a plain upload lives a day, and a late line would find it gone).
SCAN_PURPOSE = "user_data"


def _metadata(value: str) -> tuple[str, str]:
    key, sep, text = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"metadata is KEY=VALUE, got {value!r}")
    return key, text


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``domainq batch ...``'s subcommands."""
    batch = sub.add_parser("batch", help="OpenAI-style batches: a JSONL file of requests in, one of answers out")
    cmds = batch.add_subparsers(dest="batch", required=True, metavar="COMMAND")

    p = cmds.add_parser("submit", help="start a batch of a JSONL file of requests; --wait for it with a progress bar")
    p.add_argument("file", metavar="REQUESTS.jsonl")
    p.add_argument("--endpoint", help="the lines' url (default: the first line's)")
    _following(p)
    p.set_defaults(run=submit)

    p = cmds.add_parser("ocr", help="OCR a folder of scans as one batch: each uploaded, the output saved")
    p.add_argument("paths", nargs="+", metavar="FILE|DIR")
    p.add_argument("--concurrency", type=int, default=8, help="uploads at once (default 8)")
    p.add_argument("--batch-file", help="also keep the batch file built (default: a temporary file)")
    _following(p, always_waits=True)
    p.set_defaults(run=ocr)

    p = cmds.add_parser("results", help="save a finished batch's output (and error) file")
    p.add_argument("id")
    _outputs(p)
    p.set_defaults(run=results)

    p = cmds.add_parser("list", help="your batches, newest first (JSON lines)")
    p.add_argument("--limit", type=int)
    p.add_argument("--after", help="a batch id: the page after it")
    p.set_defaults(run=list_batches)
    for name, run, text in (("get", get, "a batch (JSON)"), ("cancel", cancel, "stop a batch's lines not started")):
        p = cmds.add_parser(name, help=text)
        p.add_argument("id")
        p.set_defaults(run=run)


def _outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="save the output file (one answer per line) here; default: standard output")
    p.add_argument("--errors", help="save the error file (the lines that failed) here")


def _following(p: argparse.ArgumentParser, always_waits: bool = False) -> None:
    p.add_argument("--metadata", type=_metadata, action="append", metavar="KEY=VALUE", help="repeatable")
    if not always_waits:
        p.add_argument("--wait", action="store_true", help="follow it to the end, then save its output")
    _outputs(p)


def submit(client: Client, args: argparse.Namespace) -> int:
    try:
        batch = client.batches.create(path=args.file, endpoint=args.endpoint, metadata=dict(args.metadata or []))
    except ValueError as exc:  # the file's first line names no endpoint
        raise DomainqError(str(exc)) from None
    stderr.print(f"batch {batch.id} {batch.status} ({batch.endpoint})")
    if not args.wait:
        _print_json(batch)
        if args.out or args.errors:
            stderr.print(
                f"--out and --errors are saved with --wait; later: domainq batch results {batch.id} --out FILE"
            )
        return OK
    return _follow(client, batch, args)


def results(client: Client, args: argparse.Namespace) -> int:
    batch = client.batches.get(args.id)
    if not batch.finished:
        stderr.print(f"batch {batch.id} is {batch.status}, {_done(batch)}: its files come when it ends")
        return FAILED
    return _finish(client, batch, args)


def get(client: Client, args: argparse.Namespace) -> int:
    _print_json(client.batches.get(args.id))
    return OK


def cancel(client: Client, args: argparse.Namespace) -> int:
    _print_json(client.batches.cancel(args.id))
    return OK


def list_batches(client: Client, args: argparse.Namespace) -> int:
    page = client.batches.list(limit=args.limit, after=args.after)
    for batch in page.data:
        _print_json(batch)
    if page.has_more and page.last_id:
        stderr.print(f"more: domainq batch list --after {page.last_id}")
    return OK


def _done(batch: Batch) -> str:
    counts = batch.request_counts
    if not counts.total:
        return "no lines counted yet"
    return f"{batch.lines_done}/{counts.total} lines done, {counts.failed} failed"


def _follow(client: Client, batch: Batch, args: argparse.Namespace) -> int:
    """Wait for the batch with a progress bar, then save its files: the command's exit code."""
    columns = (
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed[/] {task.fields[status]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=stderr) as bar:
            task = bar.add_task("batch", total=None, failed=0, status=batch.status)

            def show(seen: Batch) -> None:
                counts = seen.request_counts
                total = counts.total or None  # none counted yet (validating): a bar without an end
                bar.update(task, total=total, completed=seen.lines_done, failed=counts.failed, status=seen.status)

            batch = client.batches.wait(batch.id, on_progress=show)
    except KeyboardInterrupt:
        stderr.print(f"stopped waiting; batch {batch.id} goes on: domainq batch results {batch.id} --out FILE")
        return INTERRUPTED
    return _finish(client, batch, args)


def _finish(client: Client, batch: Batch, args: argparse.Namespace) -> int:
    """Save a finished batch's files; 0 if every line succeeded, else 1 with the reason on stderr."""
    if batch.output_file_id:
        with _destination(args.out) as out:
            client.files.content(batch.output_file_id, out)
    if batch.error_file_id and args.errors:
        client.files.content(batch.error_file_id, args.errors)
    failed = batch.request_counts.failed
    where = f"; results in {args.out}" if args.out and batch.output_file_id else ""
    if batch.status == "completed" and not failed:
        stderr.print(f"batch {batch.id} completed: {_done(batch)}{where}")
        return OK
    if batch.status == "failed":
        stderr.print(f"[red]error:[/] batch {batch.id} failed")
        for error in batch.errors.data if batch.errors else []:
            at = f"line {error.line}: " if error.line is not None else ""
            stderr.print(f"  {at}{error.message}" + (f" ({error.code})" if error.code else ""), markup=False)
        return FAILED
    stderr.print(f"[red]error:[/] batch {batch.id} {batch.status}: {_done(batch)}{where}")
    if failed:
        kept = f"in {args.errors}" if args.errors else "in its error file: --errors FILE saves it"
        stderr.print(f"  the failed lines are {kept}")
    return FAILED


@contextlib.contextmanager
def _destination(path: str | None) -> Iterator[str | BinaryIO]:
    """A path as given, else standard output's bytes."""
    if path:
        yield path
    else:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()


def _named(paths: list[str]) -> list[tuple[str, Path]]:
    """Each file with its ``custom_id``: its path relative to the folder given (or as given)."""
    named: dict[str, Path] = {}
    for raw in paths:
        root = Path(raw)
        for file in expand([raw]):
            custom_id = file.relative_to(root).as_posix() if root.is_dir() else raw
            if custom_id in named:
                raise DomainqError(f"two files would share the custom_id {custom_id!r}: give one folder at a time")
            named[custom_id] = file
    return list(named.items())


def ocr(client: Client, args: argparse.Namespace) -> int:
    files = _named(args.paths)
    if not files:
        raise DomainqError("no images or documents found")
    uploaded, skipped = _upload(client, files, args.concurrency)
    file_ids = [file_id for _, file_id in uploaded]
    try:
        if not uploaded:
            raise DomainqError("no file could be uploaded")
        with _batch_file(args.batch_file) as path:
            with open(path, "w", encoding="utf-8") as out:
                for custom_id, file_id in uploaded:
                    out.write(json.dumps(ocr_line(custom_id, file_id), ensure_ascii=False) + "\n")
            batch = client.batches.create(path=path, endpoint=OCR_ENDPOINT, metadata=dict(args.metadata or []))
    except BaseException:
        _delete(client, file_ids, args.concurrency)  # no batch was made: nothing needs them
        raise
    stderr.print(f"batch {batch.id} of {len(uploaded)} file(s) {batch.status}")
    # From here the batch may read the scans: an error while following it leaves them in place.
    code = _follow(client, batch, args)
    if code == INTERRUPTED:
        stderr.print(f"the {len(uploaded)} uploaded scan(s) stay for the batch (they expire in 30 days)")
        return code
    _delete(client, file_ids, args.concurrency)  # the batch has ended: no line reads them again
    if skipped:
        stderr.print(f"[red]error:[/] {skipped} file(s) could not be uploaded and are not in the batch")
        return FAILED
    return code


def ocr_line(custom_id: str, file_id: str) -> dict[str, object]:
    """One request line of a ``batch ocr`` file: the scan named by its upload, not its bytes."""
    return {"custom_id": custom_id, "method": "POST", "url": OCR_ENDPOINT, "body": {"file_id": file_id}}


@contextlib.contextmanager
def _batch_file(keep: str | None) -> Iterator[str]:
    if keep:
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="domainq-batch-") as folder:
        yield str(Path(folder) / "requests.jsonl")


def _upload(client: Client, files: list[tuple[str, Path]], concurrency: int) -> tuple[list[tuple[str, str]], int]:
    """Upload every scan, ``concurrency`` at a time, with a progress bar: each ``custom_id`` with
    its file id, in the given order, and how many could not be uploaded (each said on stderr).
    Stopped early (a refused key, no server, Ctrl-C), it deletes what it uploaded."""
    made: list[str] = []  # appended by the threads (atomic), so a stop can delete them all

    def one(named: tuple[str, Path]) -> str | None:
        custom_id, path = named
        try:
            file_id = client.files.upload(path, SCAN_PURPOSE).id
        except APIError as exc:
            if exc.status in (401, 403):
                raise  # every other file would be refused the same way
            stderr.print(f"{custom_id}: not uploaded: {exc}", markup=False)
            return None
        made.append(file_id)
        return file_id

    ids: list[str | None] = []
    columns = (TextColumn("[bold]upload"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr) as bar:
        pool = ThreadPoolExecutor(max_workers=max(concurrency, 1))
        task = bar.add_task("upload", total=len(files))
        try:
            for file_id in pool.map(one, files):
                ids.append(file_id)
                bar.advance(task)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            _delete(client, made, concurrency)
            raise
        pool.shutdown()
    uploaded = [(custom_id, file_id) for (custom_id, _), file_id in zip(files, ids, strict=True) if file_id]
    return uploaded, len(files) - len(uploaded)


def _delete(client: Client, file_ids: list[str], concurrency: int) -> None:
    """Delete the scans uploaded for the batch (best effort: they expire anyway)."""

    def one(file_id: str) -> None:
        with contextlib.suppress(DomainqError):
            client.files.delete(file_id)

    with ThreadPoolExecutor(max_workers=max(concurrency, 1)) as pool:
        list(pool.map(one, file_ids))
