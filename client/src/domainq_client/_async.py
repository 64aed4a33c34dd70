"""``AsyncClient``: the same API as ``Client`` for asyncio code, with ``AsyncJob``.

The one source of both clients: ``_sync.py`` is written from this file by ``python -m devtools.unasync``
(``async``/``await`` dropped, ``Async`` names unprefixed). Change this file, then run that.
"""

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

import httpx

from domainq_client import _common as c
from domainq_client._errors import DomainqError, NotSupportedError, UnreachableError, WaitTimeout
from domainq_client._models import Batch, BatchPage, Event, FileObject, JobPage, JobView


class AsyncJob(c.JobBase):
    """A submitted job: ``wait()`` for its result, ``events()`` to follow it, ``cancel()``."""

    def __init__(self, client: "AsyncClient", view: JobView) -> None:
        self._client = client
        self.view = view

    async def refresh(self, wait_s: float = 0) -> "AsyncJob":
        job = await self._client.jobs.get(self.id, wait_s=wait_s)
        self.view = job.view
        return self

    async def wait(self, timeout: float | None = None) -> Any:
        """Long-poll until the job finishes; its typed result, or ``JobFailedError`` /
        ``JobCanceledError``; ``WaitTimeout`` after ``timeout`` seconds (``None``: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.view.finished:
            left = c.LONG_POLL_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"job {self.id} still {self.status} after {timeout} s", self.view)
            await self.refresh(wait_s=min(c.LONG_POLL_S, max(left, 0.01)))
        return c.finished_result(self.view)

    async def cancel(self) -> "AsyncJob":
        job = await self._client.jobs.cancel(self.id)
        self.view = job.view
        return self

    async def events(self) -> AsyncIterator[Event]:
        """Live events (``status``, ``progress``, ``done``) until the job finishes. From the
        server's event stream where it has one, else from reading the job every 100 ms."""
        try:
            async for event in self._streamed_events():
                yield event
        except NotSupportedError:
            async for event in self._polled_events():
                yield event

    async def _streamed_events(self) -> AsyncIterator[Event]:
        decoder = c.SseDecoder()
        async with self._client._stream(f"/v1/jobs/{self.id}/events") as response:
            async for line in response.aiter_lines():
                sse = decoder.feed(line)
                if sse is None:
                    continue
                event = c.event_from_sse(sse[0], sse[1], self.view)
                self.view = event.job
                yield event
                if event.type == "done":
                    return

    async def _polled_events(self) -> AsyncIterator[Event]:
        tracker = c.PolledEvents()
        while True:
            for event in tracker.events(self.view):
                yield event
                if event.type == "done":
                    return
            await asyncio.sleep(c.POLL_INTERVAL_S)
            await self.refresh()


class _Resource:
    def __init__(self, client: "AsyncClient") -> None:
        self._client = client

    def _job(self, data: dict[str, Any]) -> AsyncJob:
        return AsyncJob(self._client, c.job_view(data))


class AsyncOcr(_Resource):
    async def recognize(
        self,
        image: str | os.PathLike[str] | bytes | None = None,
        filename: str | None = None,
        *,
        file_id: str | None = None,
        image_url: str | None = None,
        document_url: str | None = None,
        options: c.SubmitOptions | None = None,
        document: c.DocumentOptions | None = None,
    ) -> AsyncJob:
        """Queue OCR of one image or document: a path or its bytes, an upload (``file_id``:
        ``uploads.create``) an ``image_url`` the server's worker fetches, or a ``document_url``
        (PDF, TIFF) the API fetches; ``document``: which pages, how, and a searchable PDF."""
        named = c.named_image(file_id, image_url, document_url)
        if (image is None) == (named is None):
            raise ValueError("give the image once: its path or bytes, a file_id, an image_url or a document_url")
        read_as = document.fields() if document else {}
        return await self._client._submit_input("/v1/ocr/recognize", image, filename, named, read_as, options)


class AsyncUploads(_Resource):
    """Files sent to the server's store ahead of the jobs that name them (``file_id``)."""

    async def create(self, path: str | os.PathLike[str], content_type: str | None = None) -> str:
        """Upload the file at ``path``, streamed a chunk at a time; its id, for ``file_id``."""
        body = await asyncio.to_thread(c.upload_request, path, content_type)
        made = await self._client._request("POST", "/v1/uploads", json=body)
        await self._client._send(c.put_request(self._client._http, made, _file_chunks(path)))
        return str(made["id"])

    async def get(self, upload_id: str) -> dict[str, Any]:
        """The upload: ``state`` (``pending``, ``uploaded``), ``size``, ``expires_at``."""
        return dict(await self._client._request("GET", f"/v1/uploads/{upload_id}"))

    async def delete(self, upload_id: str) -> None:
        """Delete it now (jobs that used it keep their copies)."""
        await self._client._send(self._client._http.build_request("DELETE", f"/v1/uploads/{upload_id}"))


async def _file_chunks(path: str | os.PathLike[str]) -> AsyncIterator[bytes]:
    with open(path, "rb") as file:
        while True:
            chunk = await asyncio.to_thread(file.read, c.UPLOAD_CHUNK_BYTES)
            if not chunk:
                return
            yield chunk


class AsyncLlm(_Resource):
    async def generate(
        self,
        prompt: str | None = None,
        *,
        messages: list[dict[str, str]] | None = None,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
        choice: list[str] | None = None,
        regex: str | None = None,
        options: c.SubmitOptions | None = None,
    ) -> AsyncJob:
        """Queue text generation from a raw ``prompt`` or chat ``messages``; at most one of
        ``response_format`` (``{"type": "json_object"}`` or ``{"type": "json_schema", "json_schema":
        {"name", "schema", "strict"}}``), ``choice`` or ``regex`` constrains the text."""
        constraints = {"response_format": response_format, "choice": choice, "regex": regex}
        sampling = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p}
        body = c.generate_body(prompt, messages, **sampling, stop=stop, seed=seed, **constraints)
        return self._job(await self._client._request("POST", "/v1/llm/generate", **c.submit_request(options, body)))

    async def embed(self, texts: list[str], *, options: c.SubmitOptions | None = None) -> AsyncJob:
        """Queue embeddings of ``texts``."""
        request = c.submit_request(options, {"texts": texts})
        return self._job(await self._client._request("POST", "/v1/llm/embed", **request))


class AsyncJobs(_Resource):
    async def get(self, job_id: str, wait_s: float = 0) -> AsyncJob:
        params = {"wait": wait_s} if wait_s else None
        return self._job(await self._client._request("GET", f"/v1/jobs/{job_id}", params=params))

    async def cancel(self, job_id: str) -> AsyncJob:
        return self._job(await self._client._request("DELETE", f"/v1/jobs/{job_id}"))

    async def download(self, job_id: str, name: str, path: str | os.PathLike[str]) -> int:
        """Save a file the job made (named in its result's ``files``, e.g. ``searchable.pdf``) to
        ``path``, a chunk at a time; answers its size in bytes."""
        return await self._client._download(f"/v1/jobs/{job_id}/files/{name}", path)

    async def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        domain: str | None = None,
    ) -> JobPage:
        """One page of the caller's jobs, newest first; ``NotSupportedError`` on servers without listing."""
        params = c.list_params(limit=limit, cursor=cursor, status=status, domain=domain)
        body = await self._client._request("GET", "/v1/jobs", params=params)
        return JobPage([c.job_view(j) for j in body.get("jobs", [])], body.get("next_cursor"))


class AsyncFiles(_Resource):
    """OpenAI's Files API (``/openai/v1/files``): batch input and output files."""

    async def upload(self, path: str | os.PathLike[str], purpose: str = "batch") -> FileObject:
        """Upload the file at ``path`` (read from disk a chunk at a time as it is sent);
        ``purpose``: ``batch`` or ``user_data``. Retried as any request (httpx rewinds the file)."""
        with open(path, "rb") as file:
            name = os.path.basename(path)
            parts = {"file": (name, file, c.media_type(name))}
            made = await self._client._request("POST", c.FILES, files=parts, data={"purpose": purpose})
        return c.file_object(made)

    async def get(self, file_id: str) -> FileObject:
        return c.file_object(await self._client._request("GET", f"{c.FILES}/{file_id}"))

    async def content(self, file_id: str, dest: str | os.PathLike[str] | BinaryIO) -> int:
        """Save the file's bytes to ``dest`` (a path, or a binary stream such as
        ``sys.stdout.buffer``) a chunk at a time; answers its size in bytes."""
        return await self._client._download(f"{c.FILES}/{file_id}/content", dest)

    async def delete(self, file_id: str) -> None:
        await self._client._request("DELETE", f"{c.FILES}/{file_id}")


class AsyncBatches(_Resource):
    """OpenAI's Batch API (``/openai/v1/batches``): a JSONL file of requests in, one of answers out."""

    async def create(
        self,
        input_file_id: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        endpoint: str | None = None,
        metadata: dict[str, str] | None = None,
        completion_window: str = "24h",
    ) -> Batch:
        """Start a batch of an uploaded file (``input_file_id``, with its ``endpoint``), or of the
        JSONL file at ``path``: uploaded first (and deleted if the batch is refused), the endpoint
        read off its first line unless given."""
        if (input_file_id is None) == (path is None):
            raise ValueError("give the requests once: an input_file_id or the path of a JSONL file")
        if path is not None:
            endpoint = endpoint or await asyncio.to_thread(c.batch_endpoint, path)
            input_file_id = (await self._client.files.upload(path, "batch")).id
        if endpoint is None:
            raise ValueError("an input_file_id needs its endpoint, e.g. endpoint='/v1/embeddings'")
        assert input_file_id is not None
        body = c.batch_body(input_file_id, endpoint, metadata, completion_window)
        try:
            return c.batch(await self._client._request("POST", c.BATCHES, json=body))
        except DomainqError:
            if path is not None:  # the file this call uploaded serves no batch: not left behind
                with contextlib.suppress(DomainqError):
                    await self._client.files.delete(input_file_id)
            raise

    async def get(self, batch_id: str) -> Batch:
        return c.batch(await self._client._request("GET", f"{c.BATCHES}/{batch_id}"))

    async def list(self, *, limit: int | None = None, after: str | None = None) -> BatchPage:
        """One page of the caller's batches, newest first; the next starts ``after`` its ``last_id``."""
        body = await self._client._request("GET", c.BATCHES, params=c.list_params(limit=limit, after=after))
        data = [c.batch(b) for b in body.get("data", [])]
        return BatchPage(data, bool(body.get("has_more")), body.get("first_id"), body.get("last_id"))

    async def all(self, *, page_size: int | None = None) -> AsyncIterator[Batch]:
        """Every batch of the caller's, newest first, a page at a time."""
        after: str | None = None
        while True:
            page = await self.list(limit=page_size, after=after)
            for found in page.data:
                after = found.id
                yield found
            if not page.has_more or not page.data:
                return

    async def cancel(self, batch_id: str) -> Batch:
        """Ask the batch to stop: lines not started never run; it ends ``cancelled``."""
        return c.batch(await self._client._request("POST", f"{c.BATCHES}/{batch_id}/cancel"))

    async def wait(
        self,
        batch_id: str,
        *,
        on_progress: c.OnBatchProgress | None = None,
        timeout: float | None = None,
        interval: float | None = None,
        max_interval: float | None = None,
    ) -> Batch:
        """Read the batch until it is ``completed``, ``failed``, ``expired`` or ``cancelled``: its
        last view (a completed batch may still have failed lines: ``request_counts.failed``).
        ``on_progress`` is called with every view read; ``WaitTimeout`` after ``timeout`` seconds.
        Reads come every ``interval`` s (1) while it changes, backing off to ``max_interval`` (15)."""
        poll = c.BatchPoll(interval, max_interval, timeout)
        while True:
            found = await self.get(batch_id)
            if on_progress is not None:
                on_progress(found)
            if found.finished:
                return found
            delay = poll.delay(found)
            if delay is None:
                raise WaitTimeout(f"batch {batch_id} still {found.status} after {timeout} s", found)
            await asyncio.sleep(delay)

    async def results(
        self,
        batch_id: str,
        output: str | os.PathLike[str] | BinaryIO | None = None,
        errors: str | os.PathLike[str] | BinaryIO | None = None,
    ) -> Batch:
        """Save a batch's output file to ``output`` and its error file (failed lines) to
        ``errors``, each streamed a chunk at a time; files the batch has none of are not
        written. Answers the batch as read."""
        found = await self.get(batch_id)
        for file_id, dest in ((found.output_file_id, output), (found.error_file_id, errors)):
            if file_id and dest is not None:
                await self._client.files.content(file_id, dest)
        return found


class AsyncKeys(_Resource):
    """API keys (admin keys only), and the calling key's own webhook secret (any key)."""

    async def create(self, name: str, role: str = "user", **limits: float | None) -> dict[str, Any]:
        """A new key; its secret (``key``) is in this answer and nowhere else. ``limits``:
        ``rate_limit_per_minute``, ``max_jobs_in_flight``, ``weight`` (its fair share)."""
        body = {"name": name, "role": role, **{k: v for k, v in limits.items() if v is not None}}
        return dict(await self._client._request("POST", "/v1/keys", json=body))

    async def update(self, key_id: str, **changes: float | None) -> dict[str, Any]:
        """Change a key's ``rate_limit_per_minute``, ``max_jobs_in_flight`` or ``weight`` (``None``:
        back to the server default); the key's record after the change."""
        return dict(await self._client._request("PATCH", f"/v1/keys/{key_id}", json=changes))

    async def list(self) -> list[dict[str, Any]]:
        body = await self._client._request("GET", "/v1/keys")
        return list(body["keys"])

    async def revoke(self, key_id: str) -> dict[str, Any]:
        return dict(await self._client._request("DELETE", f"/v1/keys/{key_id}"))

    async def webhook_secret(self) -> dict[str, Any]:
        """The secret that signs the calling key's webhook deliveries: ``webhook_secret`` (and,
        after a rotation, ``previous_webhook_secret`` with ``previous_expires_in_s``)."""
        return dict(await self._client._request("GET", c.WEBHOOK_SECRET))

    async def rotate_webhook_secret(self, keep_previous_s: int | None = None) -> dict[str, Any]:
        """A new webhook secret; the old one keeps signing beside it for ``keep_previous_s``
        (the server's default, 24 h, when ``None``; 0: it stops at once)."""
        params = c.keep(keep_previous_s)
        return dict(await self._client._request("POST", c.WEBHOOK_SECRET + "/rotate", params=params))


class AsyncClient:
    """The domainq API. ``url`` and ``api_key`` default to ``DOMAINQ_URL`` and ``DOMAINQ_API_KEY``.
    Close it (``await client.aclose()``, or ``async with``) to release its connections."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 90.0,
        retry: c.RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, api_key = c.resolve(url, api_key)
        self.retry = retry or c.RetryPolicy()
        # Long-polls hold a request up to LONG_POLL_S: the read timeout must outlast them.
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=c.default_headers(api_key),
            timeout=httpx.Timeout(max(timeout, c.LONG_POLL_S + 10), connect=10),
            transport=transport,
        )
        self.ocr, self.llm, self.jobs, self.keys = AsyncOcr(self), AsyncLlm(self), AsyncJobs(self), AsyncKeys(self)
        self.uploads, self.files, self.batches = AsyncUploads(self), AsyncFiles(self), AsyncBatches(self)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def extract(
        self,
        file: str | os.PathLike[str] | bytes | None = None,
        filename: str | None = None,
        *,
        schema: dict[str, Any],
        instructions: str | None = None,
        max_new_tokens: int | None = None,
        file_id: str | None = None,
        image_url: str | None = None,
        document_url: str | None = None,
        document: c.DocumentOptions | None = None,
        options: c.SubmitOptions | None = None,
    ) -> AsyncJob:
        """Queue an extraction: OCR of an image or a document (given as ``ocr.recognize`` takes
        it; large files: ``uploads.create`` first, then ``file_id``), then JSON valid against
        ``schema`` from its text (``instructions``: what to take, in words). The job's progress
        says which stage runs (``stage``: ``ocr`` with ``pages_done``/``pages_total``, then
        ``llm``); its result is an ``ExtractResult`` (``data``: ``None`` when cut short)."""
        named = c.named_image(file_id, image_url, document_url)
        if (file is None) == (named is None):
            raise ValueError("give the document once: its path or bytes, a file_id, an image_url or a document_url")
        fields = c.extract_fields(schema, instructions, max_new_tokens, document)
        return await self._submit_input("/v1/extract", file, filename, named, fields, options)

    async def domains(self) -> list[dict[str, Any]]:
        """The enabled domains: tasks, queue depth, jobs running, workers online."""
        body = await self._request("GET", "/v1/domains")
        return list(body["domains"])

    async def _submit_input(
        self,
        path: str,
        file: str | os.PathLike[str] | bytes | None,
        filename: str | None,
        named: dict[str, str] | None,
        fields: dict[str, Any],
        options: c.SubmitOptions | None,
    ) -> AsyncJob:
        """A submit of a job that reads an image or a document: JSON naming it (``named``), else
        a multipart form with its bytes; ``fields``: the rest of the request."""
        if named is not None:
            return AsyncJob(
                self, c.job_view(await self._request("POST", path, **c.submit_request(options, {**named, **fields})))
            )
        assert file is not None
        files = await asyncio.to_thread(c.upload, file, filename)  # no file read on the event loop
        request = c.submit_request(options)
        request["data"].update(c.form_fields(fields))
        return AsyncJob(self, c.job_view(await self._request("POST", path, files=files, **request)))

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of a successful answer, after the retries ``self.retry`` allows."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise UnreachableError(f"{self.url} unreachable: {type(exc).__name__}: {exc}") from exc
            if response.is_success:
                return response.json()
            delay = self.retry.delay(response, attempt)
            if delay is None:
                raise c.error_from(response)
            attempt += 1
            await asyncio.sleep(delay)

    async def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        """One request, not retried (its body may be a stream, read once); its error raised.
        ``stream``: the answer's body is left to read (and the response to close)."""
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise UnreachableError(f"{request.url.host} unreachable: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            if stream:
                await response.aread()
                await response.aclose()
            raise c.error_from(response)
        return response

    async def _download(self, path: str, dest: str | os.PathLike[str] | BinaryIO) -> int:
        """``GET path``'s body written to ``dest`` (a path or a binary stream) a chunk at a
        time; its size in bytes."""
        response = await self._send(self._http.build_request("GET", path), stream=True)
        try:
            with contextlib.ExitStack() as opened:
                out = opened.enter_context(open(dest, "wb")) if isinstance(dest, str | os.PathLike) else dest
                size = 0
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                return size
        finally:
            await response.aclose()

    @contextlib.asynccontextmanager
    async def _stream(self, path: str) -> AsyncIterator[httpx.Response]:
        """``GET path`` as server-sent events: the open response, its error raised first."""
        request = self._http.build_request("GET", path, headers={"Accept": "text/event-stream"})
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise UnreachableError(f"{self.url} unreachable: {exc}") from exc
        try:
            if not response.is_success:
                await response.aread()
                raise c.error_from(response)
            yield response
        finally:
            await response.aclose()
