"""Inputs a job names instead of carrying: an upload (``file_id``), copied for the job by the
API, or a URL, fetched by the worker (never the API).

A job's params hold them under ``input_urls``: ``{input name: {"url": ..., "max_bytes": n}}``,
the size cap the API applies to that input sent with it. The worker fetches each before the
job's function runs (``workers.core.runner``) and gives it the bytes as any other input; a
fetch that fails fails the job with ``InputFetchError`` and the reason.
"""

from typing import Any

from common.contracts.jobs import MAX_WEBHOOK_URL_CHARS, WEBHOOK_URL_PATTERN

# An upload's id (``common.uploads``), as jobs name it.
UPLOAD_ID_PATTERN = r"^up_[0-9a-f]{32}$"
INPUT_URLS = "input_urls"
# The same shape as a webhook's URL: http(s), a host, visible ASCII. Where it resolves to is
# checked by the worker that fetches it (INPUT_URL_ALLOW_PRIVATE), right before it does.
URL_PATTERN = WEBHOOK_URL_PATTERN
MAX_URL_CHARS = MAX_WEBHOOK_URL_CHARS


def by_url(name: str, url: str, max_bytes: int) -> dict[str, Any]:
    """The params naming input ``name`` by its URL."""
    return {INPUT_URLS: {name: {"url": url, "max_bytes": max_bytes}}}


def input_url(params: dict[str, Any], name: str) -> tuple[str, int] | None:
    """``(url, max_bytes)`` of input ``name`` when the job names it by URL."""
    given = (params.get(INPUT_URLS) or {}).get(name)
    return None if given is None else (str(given["url"]), int(given["max_bytes"]))
