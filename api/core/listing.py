"""``GET /v1/jobs``: a key's jobs (an admin's: everyone's), newest first, a page at a time.

Each submit adds the job to its key's index and to the index of all jobs (sorted sets scored
by creation time, trimmed to what can still have a record: ``submit.lua``). A cursor names
the last job a page looked at, ``<score>-<id>``; the next page starts below it, so jobs added
meanwhile (all newer) never shift a page. Filters are applied to the records read, so a page
may hold fewer than ``limit`` jobs with more to come: follow ``next_cursor`` until it is null.
"""

from typing import cast

import redis.asyncio as aioredis

from common import keys
from common.contracts.jobs import JobStatus
from common.jobstore import AsyncJobStore
from common.records import JobRecord

MAX_LIMIT = 100
# At most this many index entries are read per request, whatever the filters match.
_MAX_SCAN = 1000
_BATCH = 200


# Plain text, so the route's parameter states its form: any cursor of that form is a place in
# the index, whether a listing answered it or not.
CURSOR_PATTERN = r"^[0-9]{1,20}-[0-9a-f]{32}$"


def encode_cursor(score: int, job_id: str) -> str:
    return f"{score}-{job_id}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    """``encode_cursor`` undone; the route's parameter has checked the form (``CURSOR_PATTERN``)."""
    score, job_id = cursor.split("-")
    return int(score), job_id


async def list_records(
    client: aioredis.Redis,
    store: AsyncJobStore,
    index: str,
    limit: int,
    cursor: str | None,
    domain: str | None,
    status: JobStatus | None,
) -> tuple[list[JobRecord], str | None]:
    """A page of records from ``index`` (newest first) and the cursor of the next page."""
    after = decode_cursor(cursor) if cursor else None
    found: list[JobRecord] = []
    scanned, offset = 0, 0
    last: tuple[int, str] | None = None
    top = str(after[0]) if after else "+inf"
    while scanned < _MAX_SCAN:
        batch = cast(
            list[tuple[str, float]],
            await client.zrevrangebyscore(index, top, "-inf", start=offset, num=_BATCH, withscores=True),
        )
        if not batch:
            return found, None  # the index is exhausted: the last page
        offset += len(batch)
        # Jobs of the cursor's own millisecond come in descending id order: skip those seen.
        entries = [(str(m), int(s)) for m, s in batch if not (after and int(s) == after[0] and str(m) >= after[1])]
        records = await store.get_many([job_id for job_id, _ in entries])
        gone = [job_id for (job_id, _), record in zip(entries, records, strict=True) if record is None]
        if gone:
            await client.zrem(index, *gone)  # expired records: their entries go too
            offset -= len(gone)  # and the entries after them move up as many places
        for (job_id, score), record in zip(entries, records, strict=True):
            scanned += 1
            last = (score, job_id)
            wanted = record is not None and domain in (None, record.domain) and status in (None, record.status)
            if wanted and record is not None:
                found.append(record)
                if len(found) == limit:
                    return found, encode_cursor(score, job_id)
            if scanned >= _MAX_SCAN:
                break
    return found, encode_cursor(*last) if last else None


def index_for(owner: str, is_admin: bool) -> str:
    return keys.ALL_JOBS if is_admin else keys.owner_jobs(owner)
