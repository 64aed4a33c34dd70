"""Every blob key the platform writes: the one layout, in one place (Redis keys: ``common.keys``).

Keys are relative to the store (``BLOB_STORE_URL``'s directory, or its bucket and prefix):
- ``jobs/<job id>/<name>``: a job's inputs too large to ride in Redis (an image, a document,
  its rendered pages); all of one job's lie under ``job_prefix``, so one listing finds them;
- ``results/<job id>/<attempt>.json``: a result too large for the job's record, one per run
  (a run taken for dead cannot overwrite the result of the run that replaced it);
- ``uploads/<upload id>``: a file uploaded before any job names it (a batch's input, an upload
  by presigned URL);
- ``files/<job id>/<name>``: a file a job made beside its result (a document's searchable PDF),
  served by ``GET /v1/jobs/{id}/files/{name}`` and kept as long as the job's record;
- ``batches/<batch id>/<out|err>/<part>``: an OpenAI batch's answers while it runs, a part at a
  time (``api.openai.batches``), joined into its files when it ends.

Each top-level prefix (``JOBS``, ``RESULTS``, ``UPLOADS``, ``FILES``, ``BATCHES``) can be listed on its own, e.g. by a
sweeper deleting what no live record names. A listing matches whole segments: ``jobs/ab``
lists ``jobs/ab/...``, never ``jobs/abc/...``. Every segment a helper takes is checked: no
slash, no leading dot, so a name from a request cannot climb out of its folder.
"""

import re

JOBS = "jobs"
RESULTS = "results"
UPLOADS = "uploads"
FILES = "files"
BATCHES = "batches"
# One path segment: no slash, no leading dot ("." and ".." mean something to file systems).
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def _segment(value: str) -> str:
    if not _SEGMENT.fullmatch(value):
        raise ValueError(f"not a blob key segment (letters, digits, '.', '_', '-'; 200 at most): {value!r}")
    return value


def job_prefix(job_id: str) -> str:
    """Every blob of one job lies under this."""
    return f"{JOBS}/{_segment(job_id)}"


def input_key(job_id: str, name: str) -> str:
    return f"{job_prefix(job_id)}/{_segment(name)}"


def result_key(job_id: str, attempt: int) -> str:
    return f"{RESULTS}/{_segment(job_id)}/{attempt:d}.json"


def upload_key(upload_id: str) -> str:
    return f"{UPLOADS}/{_segment(upload_id)}"


def job_file_key(job_id: str, name: str) -> str:
    """A file job ``job_id`` made, named ``name`` (one path segment)."""
    return f"{FILES}/{_segment(job_id)}/{_segment(name)}"


def batch_part_key(batch_id: str, which: str, seq: int, token: str) -> str:
    """A part of a batch's output (``which``: ``out``) or error file (``err``), the ``seq``-th
    written, by the holder of the batch's lock ``token``."""
    return f"{BATCHES}/{_segment(batch_id)}/{_segment(which)}/{seq:07d}-{_segment(token)}.jsonl"
