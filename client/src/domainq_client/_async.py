"""``AsyncClient``: the same API as ``Client`` for asyncio code, with ``AsyncJob``."""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from domainq_client import _common as c
from domainq_client._errors import NotSupportedError, UnreachableError, WaitTimeout
from domainq_client._models import Event, JobPage, JobView, typed_result
from domainq_client._sync import LONG_POLL_S, POLL_INTERVAL_S, finished_result


class AsyncJob:
    """A submitted job: ``await wait()``, ``async for event in events()``, ``await cancel()``."""

    def __init__(self, client: "AsyncClient", view: JobView) -> None:
        self._client = client
        self.view = view

    def __repr__(self) -> str:
        return f"<AsyncJob {self.id} {self.view.domain}.{self.view.task} {self.status}>"

    @property
    def id(self) -> str:
        return self.view.id

    @property
    def status(self) -> str:
        return self.view.status

    @property
    def result(self) -> Any:
        return typed_result(self.view)

    async def refresh(self, wait_s: float = 0) -> "AsyncJob":
        self.view = (await self._client.jobs.get(self.id, wait_s=wait_s)).view
        return self

    async def wait(self, timeout: float | None = None) -> Any:
        """As ``Job.wait``: the typed result, or the job's failure, cancel or a ``WaitTimeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.view.finished:
            left = LONG_POLL_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(f"job {self.id} still {self.status} after {timeout} s", self.view)
            await self.refresh(wait_s=min(LONG_POLL_S, max(left, 0.01)))
        return finished_result(self.view)

    async def cancel(self) -> "AsyncJob":
        self.view = (await self._client.jobs.cancel(self.id)).view
        return self

    async def events(self) -> AsyncIterator[Event]:
        """As ``Job.events``: the server's event stream, else reads of the job every 100 ms."""
        try:
            async for event in self._streamed_events():
                yield event
        except NotSupportedError:
            tracker = c.PolledEvents()
            while True:
                for event in tracker.events(self.view):
                    yield event
                    if event.type == "done":
                        return
                await asyncio.sleep(POLL_INTERVAL_S)
                await self.refresh()

    async def _streamed_events(self) -> AsyncIterator[Event]:
        decoder = c.SseDecoder()
        http = self._client._http
        request = http.build_request("GET", f"/v1/jobs/{self.id}/events", headers={"Accept": "text/event-stream"})
        try:
            response = await http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise UnreachableError(f"{self._client.url} unreachable: {exc}") from exc
        try:
            if not response.is_success:
                await response.aread()
                raise c.error_from(response)
            async for line in response.aiter_lines():
                sse = decoder.feed(line)
                if sse is None:
                    continue
                event = c.event_from_sse(sse[0], sse[1], self.view)
                self.view = event.job
                yield event
                if event.type == "done":
                    return
        finally:
            await response.aclose()


class _Resource:
    def __init__(self, client: "AsyncClient") -> None:
        self._client = client

    def _job(self, response: httpx.Response) -> AsyncJob:
        return AsyncJob(self._client, c.job_view(response.json()))


class AsyncOcr(_Resource):
    async def recognize(
        self,
        image: str | os.PathLike[str] | bytes,
        filename: str | None = None,
        *,
        options: c.SubmitOptions | None = None,
    ) -> AsyncJob:
        files = await asyncio.to_thread(c.upload, image, filename)  # no file read on the event loop
        request = c.submit_request(options)
        return self._job(await self._client._request("POST", "/v1/ocr/recognize", files=files, **request))


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
        options: c.SubmitOptions | None = None,
    ) -> AsyncJob:
        body = c.generate_body(
            prompt, messages, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed
        )
        return self._job(await self._client._request("POST", "/v1/llm/generate", **c.submit_request(options, body)))

    async def embed(self, texts: list[str], *, options: c.SubmitOptions | None = None) -> AsyncJob:
        request = c.submit_request(options, {"texts": texts})
        return self._job(await self._client._request("POST", "/v1/llm/embed", **request))


class AsyncJobs(_Resource):
    async def get(self, job_id: str, wait_s: float = 0) -> AsyncJob:
        params = {"wait": wait_s} if wait_s else None
        return self._job(await self._client._request("GET", f"/v1/jobs/{job_id}", params=params))

    async def cancel(self, job_id: str) -> AsyncJob:
        return self._job(await self._client._request("DELETE", f"/v1/jobs/{job_id}"))

    async def list(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        domain: str | None = None,
    ) -> JobPage:
        params = c.list_params(limit=limit, cursor=cursor, status=status, domain=domain)
        body = (await self._client._request("GET", "/v1/jobs", params=params)).json()
        return JobPage([c.job_view(j) for j in body.get("jobs", [])], body.get("next_cursor"))


class AsyncKeys(_Resource):
    """API keys (admin keys only), and the calling key's own webhook secret (any key)."""

    async def create(self, name: str, role: str = "user", **limits: int | None) -> dict[str, Any]:
        body = {"name": name, "role": role, **{k: v for k, v in limits.items() if v is not None}}
        return dict((await self._client._request("POST", "/v1/keys", json=body)).json())

    async def list(self) -> list[dict[str, Any]]:
        return list((await self._client._request("GET", "/v1/keys")).json()["keys"])

    async def revoke(self, key_id: str) -> dict[str, Any]:
        return dict((await self._client._request("DELETE", f"/v1/keys/{key_id}")).json())

    async def webhook_secret(self) -> dict[str, Any]:
        return dict((await self._client._request("GET", c.WEBHOOK_SECRET)).json())

    async def rotate_webhook_secret(self, keep_previous_s: int | None = None) -> dict[str, Any]:
        path, params = c.WEBHOOK_SECRET + "/rotate", c.keep(keep_previous_s)
        return dict((await self._client._request("POST", path, params=params)).json())


class AsyncClient:
    """The domainq API for asyncio; ``await client.aclose()`` (or ``async with``) when done."""

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
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=c.default_headers(api_key),
            timeout=httpx.Timeout(max(timeout, LONG_POLL_S + 10), connect=10),
            transport=transport,
        )
        self.ocr, self.llm, self.jobs, self.keys = AsyncOcr(self), AsyncLlm(self), AsyncJobs(self), AsyncKeys(self)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def domains(self) -> list[dict[str, Any]]:
        return list((await self._request("GET", "/v1/domains")).json()["domains"])

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise UnreachableError(f"{self.url} unreachable: {type(exc).__name__}: {exc}") from exc
            if response.is_success:
                return response
            delay = self.retry.delay(response, attempt)
            if delay is None:
                raise c.error_from(response)
            attempt += 1
            await asyncio.sleep(delay)
