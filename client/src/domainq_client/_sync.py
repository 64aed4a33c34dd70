"""``Client``: the blocking client, its resources (``ocr``, ``llm``, ``jobs``, ``keys``) and ``Job``."""

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx

from domainq_client import _common as c
from domainq_client._errors import JobCanceledError, JobFailedError, NotSupportedError, UnreachableError, WaitTimeout
from domainq_client._models import Event, JobPage, JobView, typed_result

# One long-poll asks the server to hold the request this long (its cap is 60 s).
LONG_POLL_S = 30.0
# How often the events fallback reads a running job (the worker writes progress every 250 ms).
POLL_INTERVAL_S = 0.1


def finished_result(view: JobView) -> Any:
    """A finished job's typed result, or the exception its end calls for."""
    if view.status == "succeeded":
        return typed_result(view)
    if view.status == "failed":
        error = view.error
        reason = f"{error.type}: {error.message}" if error else "no reason given"
        raise JobFailedError(f"job {view.id} failed: {reason}", view)
    raise JobCanceledError(f"job {view.id} was {view.status}", view)


class Job:
    """A submitted job: ``wait()`` for its result, ``events()`` to follow it, ``cancel()``."""

    def __init__(self, client: "Client", view: JobView) -> None:
        self._client = client
        self.view = view

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.domain}.{self.task} {self.status}>"

    @property
    def id(self) -> str:
        return self.view.id

    @property
    def domain(self) -> str:
        return self.view.domain

    @property
    def task(self) -> str:
        return self.view.task

    @property
    def status(self) -> str:
        return self.view.status

    @property
    def result(self) -> Any:
        """The typed result once succeeded (``None`` before)."""
        return typed_result(self.view)

    def refresh(self, wait_s: float = 0) -> "Job":
        self.view = self._client.jobs.get(self.id, wait_s=wait_s).view
        return self

    def wait(self, timeout: float | None = None) -> Any:
        """Long-poll until the job finishes; its typed result, or ``JobFailedError`` /
        ``JobCanceledError``; ``WaitTimeout`` after ``timeout`` seconds (``None``: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.view.finished:
            left = LONG_POLL_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"job {self.id} still {self.status} after {timeout} s", self.view)
            self.refresh(wait_s=min(LONG_POLL_S, max(left, 0.01)))
        return finished_result(self.view)

    def cancel(self) -> "Job":
        self.view = self._client.jobs.cancel(self.id).view
        return self

    def events(self) -> Iterator[Event]:
        """Live events (``status``, ``progress``, ``done``) until the job finishes. From the
        server's event stream where it has one, else from reading the job every 100 ms."""
        try:
            yield from self._streamed_events()
        except NotSupportedError:
            yield from self._polled_events()

    def _streamed_events(self) -> Iterator[Event]:
        decoder = c.SseDecoder()
        with self._client._stream("GET", f"/v1/jobs/{self.id}/events") as response:
            for line in response.iter_lines():
                sse = decoder.feed(line)
                if sse is None:
                    continue
                event = c.event_from_sse(sse[0], sse[1], self.view)
                self.view = event.job
                yield event
                if event.type == "done":
                    return

    def _polled_events(self) -> Iterator[Event]:
        tracker = c.PolledEvents()
        while True:
            for event in tracker.events(self.view):
                yield event
                if event.type == "done":
                    return
            time.sleep(POLL_INTERVAL_S)
            self.refresh()


class _Resource:
    def __init__(self, client: "Client") -> None:
        self._client = client

    def _job(self, response: httpx.Response) -> Job:
        return Job(self._client, c.job_view(response.json()))


class Ocr(_Resource):
    def recognize(
        self,
        image: str | os.PathLike[str] | bytes,
        filename: str | None = None,
        *,
        options: c.SubmitOptions | None = None,
    ) -> Job:
        """Queue OCR of one image (a path or its bytes)."""
        files = c.upload(image, filename)
        return self._job(self._client._request("POST", "/v1/ocr/recognize", files=files, **c.submit_request(options)))


class Llm(_Resource):
    def generate(
        self,
        prompt: str | None = None,
        *,
        messages: list[dict[str, str]] | None = None,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop: list[str] | None = None,
        seed: int | None = None,
        options: c.SubmitOptions | None = None,
    ) -> Job:
        """Queue text generation from a raw ``prompt`` or chat ``messages``."""
        body = c.generate_body(
            prompt, messages, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed
        )
        return self._job(self._client._request("POST", "/v1/llm/generate", **c.submit_request(options, body)))

    def embed(self, texts: list[str], *, options: c.SubmitOptions | None = None) -> Job:
        """Queue embeddings of ``texts``."""
        request = c.submit_request(options, {"texts": texts})
        return self._job(self._client._request("POST", "/v1/llm/embed", **request))


class Jobs(_Resource):
    def get(self, job_id: str, wait_s: float = 0) -> Job:
        params = {"wait": wait_s} if wait_s else None
        return self._job(self._client._request("GET", f"/v1/jobs/{job_id}", params=params))

    def cancel(self, job_id: str) -> Job:
        return self._job(self._client._request("DELETE", f"/v1/jobs/{job_id}"))

    def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        domain: str | None = None,
    ) -> JobPage:
        """One page of the caller's jobs, newest first; ``NotSupportedError`` on servers without listing."""
        params = c.list_params(limit=limit, cursor=cursor, status=status, domain=domain)
        body = self._client._request("GET", "/v1/jobs", params=params).json()
        return JobPage([c.job_view(j) for j in body.get("jobs", [])], body.get("next_cursor"))


class Keys(_Resource):
    """API keys (admin keys only), and the calling key's own webhook secret (any key)."""

    def create(self, name: str, role: str = "user", **limits: int | None) -> dict[str, Any]:
        """A new key; its secret (``key``) is in this answer and nowhere else."""
        body = {"name": name, "role": role, **{k: v for k, v in limits.items() if v is not None}}
        return dict(self._client._request("POST", "/v1/keys", json=body).json())

    def list(self) -> list[dict[str, Any]]:
        return list(self._client._request("GET", "/v1/keys").json()["keys"])

    def revoke(self, key_id: str) -> dict[str, Any]:
        return dict(self._client._request("DELETE", f"/v1/keys/{key_id}").json())

    def webhook_secret(self) -> dict[str, Any]:
        """The secret that signs the calling key's webhook deliveries: ``webhook_secret`` (and,
        after a rotation, ``previous_webhook_secret`` with ``previous_expires_in_s``)."""
        return dict(self._client._request("GET", c.WEBHOOK_SECRET).json())

    def rotate_webhook_secret(self, keep_previous_s: int | None = None) -> dict[str, Any]:
        """A new webhook secret; the old one keeps signing beside it for ``keep_previous_s``
        (the server's default, 24 h, when ``None``; 0: it stops at once)."""
        return dict(self._client._request("POST", c.WEBHOOK_SECRET + "/rotate", params=c.keep(keep_previous_s)).json())


class Client:
    """The domainq API, blocking. ``url`` and ``api_key`` default to ``DOMAINQ_URL`` and
    ``DOMAINQ_API_KEY``. Close it (or use ``with``) to release its connections."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 90.0,
        retry: c.RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, api_key = c.resolve(url, api_key)
        self.retry = retry or c.RetryPolicy()
        # Long-polls hold a request up to LONG_POLL_S: the read timeout must outlast them.
        self._http = httpx.Client(
            base_url=self.url,
            headers=c.default_headers(api_key),
            timeout=httpx.Timeout(max(timeout, LONG_POLL_S + 10), connect=10),
            transport=transport,
        )
        self.ocr, self.llm, self.jobs, self.keys = Ocr(self), Llm(self), Jobs(self), Keys(self)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def domains(self) -> list[dict[str, Any]]:
        """The enabled domains: tasks, queue depth, jobs running, workers online."""
        return list(self._request("GET", "/v1/domains").json()["domains"])

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise UnreachableError(f"{self.url} unreachable: {type(exc).__name__}: {exc}") from exc
            if response.is_success:
                return response
            delay = self.retry.delay(response, attempt)
            if delay is None:
                raise c.error_from(response)
            attempt += 1
            time.sleep(delay)

    def _stream(self, method: str, path: str) -> "_StreamContext":
        return _StreamContext(self, method, path)


class _StreamContext:
    """``with client._stream(...) as response``: an open streamed response, errors raised first."""

    def __init__(self, client: Client, method: str, path: str) -> None:
        self._request = client._http.build_request(method, path, headers={"Accept": "text/event-stream"})
        self._client = client
        self._response: httpx.Response | None = None

    def __enter__(self) -> httpx.Response:
        try:
            response = self._client._http.send(self._request, stream=True)
        except httpx.TransportError as exc:
            raise UnreachableError(f"{self._client.url} unreachable: {exc}") from exc
        if not response.is_success:
            response.read()
            response.close()
            raise c.error_from(response)
        self._response = response
        return response

    def __exit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.close()
