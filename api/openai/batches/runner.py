"""Stepping batches: validate, feed lines as jobs, collect their answers, write the files.

Every API process runs one ``BatchRunner``. Each ``BATCH_STEP_S`` it walks the active batches
and steps each one whose lock it holds or takes (``batch_lock.lua``); the scripts it calls check
that lock's token before they change anything, so two processes never both step a batch, and
one that stalled past its lock changes nothing when it wakes (``api.openai.batches``).
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from api.core.auth import Principal
from api.core.background import stop_task
from api.core.config import ApiSettings
from api.core.errors import ApiError
from api.core.jobs import JobService
from api.core.submit_controls import SubmitControls
from api.openai.batches import store as batches
from api.openai.batches.endpoints import Endpoint, LineRefused
from api.openai.batches.lines import LineProblem, Lines, output_line, parse_line
from api.openai.batches.validation import check_file
from api.openai.errors import openai_error
from api.openai.files import FILE_TTL_S
from common import keys, uploads
from common.blobs import BlobError, BlobNotFound, BlobStore
from common.blobs.keys import batch_part_key, upload_key
from common.contracts.jobs import JobStatus
from common.fair import Priority
from common.records import JobRecord
from common.scripts import AsyncScripts, text

log = logging.getLogger(__name__)

LOCK_S = 20  # a stalled or killed process's batches wait this long for another to take them on
READ_BYTES = 256 * 1024  # the input file is fed from, a range at a time
COLLECT_MAX = 2000  # ended lines written in one step
STOP_GRACE_S = 5  # at shutdown, how long past a step's pause the loop may take to see it should stop


def _derived_file_id(batch_id: str, which: str) -> str:
    """The output (or error) file's upload id: the same each time the batch is finalized."""
    return "up_" + hashlib.sha256(f"{batch_id}:{which}".encode()).hexdigest()[:32]


@dataclass
class _Parts:
    """Lines written in one collect step: the output part's and the error part's."""

    out: list[bytes] = field(default_factory=list)
    err: list[bytes] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    job_ids: list[str] = field(default_factory=list)


class BatchRunner:
    def __init__(
        self,
        settings: ApiSettings,
        client: Any,
        scripts: AsyncScripts,
        jobs: JobService,
        blobs: BlobStore,
        endpoints: dict[str, Endpoint],
    ) -> None:
        self.settings, self.client, self.scripts, self.jobs, self.blobs = settings, client, scripts, jobs, blobs
        self.endpoints = endpoints
        # The longest line taken: an image in base64 (the largest body of any endpoint) and its fields.
        self.max_line_bytes = settings.max_upload_bytes * 4 // 3 + 64 * 1024
        self.store = batches.BatchStore(client, scripts)
        self._token = secrets.token_hex(8)  # this process's: a lock it holds is renewed, not retaken
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._faulty: set[str] = set()  # batches whose last step raised (logged once)

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="batch-runner")

    async def stop(self) -> None:
        """End the loop after its step (a flag it checks), or cancel it past a grace."""
        self._stopping = True
        if self._task is not None:
            await stop_task(self._task, "batch runner", self.settings.batch_step_s + STOP_GRACE_S, STOP_GRACE_S)

    async def _loop(self) -> None:
        failing = False
        while not self._stopping:
            try:
                await self.step_all()
                if failing:
                    log.info("batches stepped again")
                failing = False
            except Exception as exc:  # Redis away, a store fault: the batches wait, nothing is lost
                if not failing:  # once, not every step while it lasts
                    log.warning("batch step failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
                failing = True
            if not self._stopping:
                await asyncio.sleep(self.settings.batch_step_s)

    async def step_all(self) -> None:
        for batch_id in await self.store.active():
            endpoint = await self.client.hget(keys.batch(batch_id), "endpoint")
            if endpoint is not None and text(endpoint) not in self.endpoints:
                continue  # another API's domain (an llm API and an OCR API side by side): its to step
            if await self.scripts.run(batches.lock(batch_id, self._token, LOCK_S)):
                try:
                    await self.step(batch_id)
                    self._faulty.discard(batch_id)
                except (ApiError, BlobError) as exc:  # the store or Redis away: next time
                    log.warning("batch %s step put off: %s", batch_id, exc)
                except Exception:  # a fault of this batch's own: the others still step
                    if batch_id not in self._faulty:  # once, not every step while it lasts
                        log.exception("batch %s could not be stepped", batch_id)
                    self._faulty.add(batch_id)

    async def step(self, batch_id: str) -> None:
        record = await self.store.get(batch_id)
        if record is None:  # its record expired or was never whole: nothing to step
            await self.client.srem(keys.BATCHES_ACTIVE, batch_id)
            return
        if record.status == "validating":
            try:
                await self._validate(record)
            except BlobNotFound:
                message = f"the input file {record.input_file_id} was deleted before it was checked"
                error = LineProblem("input_file_deleted", message).at(None).as_error()
                await self._end(record, "failed", errors=json.dumps([error]))
        elif record.status == "in_progress":
            if batches.now_s() >= record.number("expires_at"):
                await self._to_finalizing(record, "in_progress", "expired")
                return
            await self._collect(record)
            record = await self.store.get(batch_id) or record
            if record.number("line") < record.number("total_lines"):
                try:
                    await self._feed(record)
                except BlobNotFound:  # its input file was deleted: the lines not fed are unknown
                    await self._input_gone(record, "in_progress")
            elif not await self.store.live(batch_id):
                await self._to_finalizing(record, "in_progress", "completed")
        elif record.status == "cancelling":
            await self._cancel_lines(record)
            await self._collect(record)
            if not await self.store.live(batch_id):
                await self._to_finalizing(record, "cancelling", "cancelled")
        elif record.status == "finalizing":
            if record.ending == "expired" and not await self._expire_lines(record):
                return
            if record.ending == "failed":  # its input gone: the lines in flight still end and count
                await self._collect(record)
                if await self.store.live(batch_id):
                    return
            await self._finalize(record)

    # -- validating ---------------------------------------------------------------------------

    async def _validate(self, record: batches.BatchRecord) -> None:
        """Check every line as the endpoint would; a file with bad lines fails the batch."""
        checked = await check_file(
            self._lines(record), record.endpoint, self.endpoints[record.endpoint],
            lambda: self.scripts.run(batches.lock(record.id, self._token, LOCK_S)),
        )  # fmt: skip
        if checked.problems:
            await self._end(record, "failed", errors=json.dumps([p.as_error() for p in checked.problems]))
            log.info("batch failed validation", extra={"batch_id": record.id, "bad_lines": checked.bad_lines})
            return
        total, lines = str(checked.requests), str(checked.lines)
        values = {"total": total, "total_lines": lines, "in_progress_at": str(batches.now_s())}
        await self.scripts.run(batches.update(record.id, self._token, ("validating",), status="in_progress", **values))
        log.info("batch in progress", extra={"batch_id": record.id, "lines": checked.requests})

    # -- feeding ------------------------------------------------------------------------------

    def _principal(self, record: batches.BatchRecord) -> Principal:
        f = record.fields
        weight = float(f.get("weight") or 1)
        return Principal(record.owner, f.get("role", "user"), None, None, f.get("key_hash") or None, weight)

    async def _feed(self, record: batches.BatchRecord) -> None:
        """Submit the next lines, as many as keep the window full; the feed's place moves past
        them in the same script that notes their jobs (``batch_fed.lua``)."""
        room = self.settings.batch_window - int(await self.client.scard(keys.batch(record.id, "live")))
        if room <= 0:
            return
        endpoint, principal = self.endpoints[record.endpoint], self._principal(record)
        done = (record.number("offset"), record.number("line"))  # the place after the lines handled
        fed: dict[str, str] = {}
        try:
            async for number, offset, raw in self._lines(record).starting(*done, READ_BYTES):
                line = parse_line(raw, record.endpoint)
                if line is not None:
                    try:
                        job = await endpoint.job(line.body, principal)
                        accepted = await self.jobs.submit(
                            principal, job.domain, job.verb, job.params, job.inputs,
                            controls=SubmitControls(f"batch {record.id} line {number}", priority=Priority.batch),
                            pages=job.pages, batch_lines=keys.batch(record.id, "live"),
                        )  # fmt: skip
                    except LineRefused as exc:  # only submitting could tell (an upload gone): an error line
                        await self._note(record, done, fed)
                        await self._refused_line(record, line.custom_id, exc, (offset, number))
                        return
                    fed[accepted.id] = json.dumps({"line": str(number), "custom_id": line.custom_id, **job.meta})
                done = (offset, number)
                if len(fed) >= room:
                    break
        except ApiError as exc:
            if exc.status == 401:  # its key was revoked: its batch stops
                cancelling = {"status": "cancelling", "cancelling_at": str(batches.now_s())}
                await self.scripts.run(batches.update(record.id, "", ("in_progress",), **cancelling))
            await self._note(record, done, fed)
            raise  # the queue full, Redis or the store away: fed again from here later
        await self._note(record, done, fed)

    def _lines(self, record: batches.BatchRecord) -> Lines:
        return Lines(self.blobs, upload_key(record.input_file_id), self.max_line_bytes)

    async def _note(self, record: batches.BatchRecord, done: tuple[int, int], fed: dict[str, str]) -> None:
        if fed or done != (record.number("offset"), record.number("line")):
            await self.scripts.run(batches.fed(record.id, self._token, *done, fed))
            record.fields.update(offset=str(done[0]), line=str(done[1]))
            fed.clear()

    async def _refused_line(
        self, record: batches.BatchRecord, custom_id: str, exc: LineRefused, feed_to: tuple[int, int]
    ) -> None:
        error = {"code": "invalid_request", "message": exc.message}
        parts = _Parts(err=[output_line(custom_id, None, None, error)], failed=1)
        await self._write(record, parts, feed_to)

    # -- collecting ---------------------------------------------------------------------------

    async def _collect(self, record: batches.BatchRecord, expiring: bool = False) -> None:
        """Write the lines whose jobs ended to the next parts of the files."""
        live = await self.store.live(record.id)
        if not live:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in live:
                pipe.hget(keys.job(job_id), "status")
            statuses = await pipe.execute()
        ended = [j for j, s in zip(live, statuses, strict=True) if s is None or JobStatus(s).finished][:COLLECT_MAX]
        metas = await self.store.lines_of(record.id, ended)
        # A job whose line is not noted yet was submitted by a process that died before noting
        # it: the feed submits that line again (the same job) and notes it first.
        noted = [(j, json.loads(m)) for j, m in zip(ended, metas, strict=True) if m is not None]
        if not noted:
            return
        parts = _Parts()
        records = await self.jobs.store.get_many([j for j, _ in noted])
        for (job_id, meta), job in zip(noted, records, strict=True):
            await self._collect_line(record, parts, job_id, meta, job, expiring)
        await self._write(record, parts)

    async def _collect_line(
        self,
        record: batches.BatchRecord,
        parts: _Parts,
        job_id: str,
        meta: dict[str, str],
        job: JobRecord | None,
        expiring: bool,
    ) -> None:
        parts.job_ids.append(job_id)
        custom_id = meta["custom_id"]
        if job is not None and job.status is JobStatus.succeeded:
            view = await self.jobs.with_result(job)
            body = self.endpoints[record.endpoint].answer(job_id, view.result or {}, meta)
            parts.out.append(output_line(custom_id, job_id, {"status_code": 200, "request_id": job_id, "body": body}))
            parts.completed += 1
            return
        if job is not None and job.status is JobStatus.failed:
            error = job.view().error
            faults = {"JobInputError", "InvalidConstraint"}  # as the interactive routes answer them
            status = 400 if error is not None and error.type in faults else 500
            message = f"job {job_id} failed: {error.message if error else 'no reason recorded'}"
            code, body = openai_error(status, {"error": {"message": message, "code": "job_failed"}})
            parts.err.append(output_line(custom_id, job_id, {"status_code": code, "request_id": job_id, "body": body}))
            parts.failed += 1
            return
        if record.status == "cancelling":
            return  # canceled with its batch: in neither file, as OpenAI does
        if expiring:
            why = {"code": "batch_expired", "message": "the batch's completion window passed before this line ran"}
        elif job is None:
            why = {"code": "request_lost", "message": f"job {job_id}'s record expired before its answer was read"}
        else:
            why = {"code": "request_cancelled", "message": f"job {job_id} ended {job.status.value}"}
        parts.err.append(output_line(custom_id, job_id, None, why))
        parts.failed += 1

    async def _write(self, record: batches.BatchRecord, parts: _Parts, feed_to: tuple[int, int] | None = None) -> None:
        """Store the parts (named with this lock's token), then list them with the counts."""
        seq = record.number("parts")
        names = {}
        for which, lines in (("out", parts.out), ("err", parts.err)):
            if lines:
                names[which] = batch_part_key(record.id, which, seq, self._token)
                await self.blobs.put(names[which], b"".join(lines), content_type="application/jsonl")
        step = batches.Collected(
            names.get("out", ""), names.get("err", ""), parts.completed, parts.failed, parts.job_ids, feed_to
        )
        if await self.scripts.run(batches.collect(record.id, self._token, step)):
            record.fields["parts"] = str(seq + 1)
            if feed_to is not None:
                record.fields.update(offset=str(feed_to[0]), line=str(feed_to[1]))

    # -- cancel and expiry --------------------------------------------------------------------

    async def _cancel_lines(self, record: batches.BatchRecord) -> None:
        """Cancel the batch's line jobs not ended (queued ones never run; running ones stop)."""
        principal = self._principal(record)
        for job_id in await self.store.live(record.id):
            with contextlib.suppress(ApiError):  # ended meanwhile, or gone
                await self.jobs.cancel(job_id, principal)

    async def _expire_lines(self, record: batches.BatchRecord) -> bool:
        """An expired batch's unfinished lines to the error file (``batch_expired``): its jobs
        canceled and collected, then the lines never submitted. True once none is left."""
        await self._cancel_lines(record)
        await self._collect(record, expiring=True)
        if await self.store.live(record.id):
            return False
        if record.number("line") >= record.number("total_lines"):
            return True
        error = {"code": "batch_expired", "message": "the batch's completion window passed before this line ran"}
        parts, place = _Parts(), (record.number("offset"), record.number("line"))
        try:
            async for number, offset, raw in self._lines(record).starting(*place, READ_BYTES):
                line = parse_line(raw, record.endpoint)
                if line is not None:
                    parts.err.append(output_line(line.custom_id, None, None, error))
                    parts.failed += 1
                place = (offset, number)
                if parts.failed >= COLLECT_MAX:
                    break
        except BlobNotFound:  # the input file was deleted: its lines not fed cannot be named
            place = (place[0], record.number("total_lines"))
        await self._write(record, parts, feed_to=place)
        return place[1] >= record.number("total_lines")

    # -- the end ------------------------------------------------------------------------------

    async def _to_finalizing(self, record: batches.BatchRecord, status: str, ending: str, **more: str) -> None:
        values = {"status": "finalizing", "ending": ending, "finalizing_at": str(batches.now_s()), **more}
        await self.scripts.run(batches.update(record.id, self._token, (status,), **values))

    async def _input_gone(self, record: batches.BatchRecord, status: str) -> None:
        """The input file was deleted while lines were still to feed: the batch fails, with the
        answers it has (the lines in flight still end and are written)."""
        message = f"the input file {record.input_file_id} was deleted before every line was fed"
        error = LineProblem("input_file_deleted", message).at(None).as_error()
        await self._to_finalizing(record, status, "failed", errors=json.dumps([error]))

    async def _finalize(self, record: batches.BatchRecord) -> None:
        """Join the listed parts into the output and error files, then end the batch."""
        files = {}
        for which, purpose in (("out", "output"), ("err", "error")):
            parts = await self.store.parts(record.id, which)
            if parts:
                files[which] = await self._file(record, parts, purpose)
        ending = record.ending
        await self._end(record, ending, output_file_id=files.get("out", ""), error_file_id=files.get("err", ""))
        for which in ("out", "err"):
            for part in await self.store.parts(record.id, which):
                with contextlib.suppress(BlobError):
                    await self.blobs.delete(part)
        log.info(
            "batch ended",
            extra={"batch_id": record.id, "status": ending, "completed": record.number("completed"),
                   "failed": record.number("failed")},
        )  # fmt: skip

    async def _file(self, record: batches.BatchRecord, parts: list[str], purpose: str) -> str:
        file_id = _derived_file_id(record.id, purpose)

        async def joined() -> AsyncIterator[bytes]:
            for part in parts:
                async for chunk in await self.blobs.stream(part):
                    yield chunk

        size = await self.blobs.put(upload_key(file_id), joined(), content_type="application/jsonl")
        name = f"{record.id}_{purpose}.jsonl"
        call = uploads.create(
            record.owner, size, "application/jsonl", name, FILE_TTL_S, 0, "batch_output", upload_id=file_id
        )
        await self.scripts.run(call)
        return file_id

    async def _end(self, record: batches.BatchRecord, status: str, **values: str) -> None:
        values = {"status": status, batches.STATUS_AT[status]: str(batches.now_s()), **values}
        await self.scripts.run(batches.end(record.id, record.owner, self._token, FILE_TTL_S, **values))
