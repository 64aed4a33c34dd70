"""Deleting from the blob store what no live job needs: the reconciler's leader runs it.

1. **Inputs of ended jobs.** Every end of a job (``_end_job.lua``) whose inputs went to the blob
   store lists its id in ``dq:blobs:gone`` (Lua cannot reach the store); each pass deletes
   everything under those jobs' prefixes. A delete that fails (the store away) puts the id back.
2. **What a crash left behind** (a submit that stored its inputs and died before its record,
   a delete that never happened), every ``BLOB_SWEEP_INTERVAL_S``: objects under ``jobs/`` whose
   job has ended, or has no record and is older than ``BLOB_ORPHAN_GRACE_S`` (a submit writes
   its inputs a moment before its record).
3. **Uploads that expired** (``common.uploads``), in the same sweep: objects under ``uploads/``
   whose upload record is gone (it expires ``UPLOAD_TTL_S`` after it was made; a job that used
   it holds its own copy). A record is written before its object can be, so none needs a grace.
4. **Results no record names** (``common.results``), in the same sweep: objects under
   ``results/`` whose record has expired (``JOB_TTL_S`` after the job ended: a result lives as
   long as its record, and up to a sweep interval more) or is gone some other way (a Redis that
   lost its data, an eviction), and those of runs whose finish never landed (a worker killed
   between storing its result and finishing, a dropped finish whose delete failed) once their
   job has ended naming another. A live job's are left: its run may be finishing now. No grace
   is needed: a result is only ever stored while its job's record exists.
5. **Files of jobs that are gone** (``files/<job id>/<name>``: a document's searchable PDF), in
   the same sweep: those whose record has expired or is gone, or whose job did not succeed (a
   run that wrote its file and then failed to finish). A live job's are left.
6. **Parts of batches that ended** (``batches/<batch id>/...``), in the same sweep: a batch's
   parts are joined into its files and deleted when it ends; what is left (a part written by a
   process that died before listing it, a delete that failed) goes once the batch is no longer
   active. An active batch's are left: they may be listed at any moment.
"""

import logging
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import redis

from common import keys
from common.blobs import BlobError, BlobInfo, BlobStore, open_blob_store
from common.blobs.keys import BATCHES, FILES, JOBS, RESULTS, UPLOADS, job_prefix
from common.config import CoreSettings
from common.contracts.jobs import JobStatus
from common.results import ResultRef
from common.scripts import text

log = logging.getLogger(__name__)

_GONE_BATCH = 100
_RESULTS_BATCH = 1000  # results looked up in Redis at once
_LIVE = {JobStatus.queued.value, JobStatus.running.value}


class BlobSweeper:
    def __init__(self, client: redis.Redis, settings: CoreSettings) -> None:
        self.client, self.settings = client, settings
        self._store: BlobStore | None = None
        self._swept_at = -float("inf")

    @property
    def store(self) -> BlobStore:
        if self._store is None:  # on first use, in the thread that sweeps
            self._store = open_blob_store(self.settings)
        return self._store

    def run_once(self) -> int:
        """One pass; answers how many jobs' inputs were deleted (the sweep's too, and its results)."""
        done = self._delete_gone()
        if time.monotonic() - self._swept_at >= self.settings.blob_sweep_interval_s:
            self._swept_at = time.monotonic()
            done += self.sweep()
        return done

    def _delete_gone(self) -> int:
        ids = [text(i) for i in self.client.spop(keys.BLOBS_GONE, _GONE_BATCH) or []]
        for n, job_id in enumerate(ids):
            try:
                self._delete_job(job_id)
            except BlobError as exc:
                log.warning("inputs of ended jobs not deleted yet (%s): %s", type(exc).__name__, exc)
                self.client.sadd(keys.BLOBS_GONE, *ids[n:])
                return n
        return len(ids)

    def _delete_job(self, job_id: str, found: list[BlobInfo] | None = None) -> None:
        listed = found if found is not None else list(self.store.list_sync(job_prefix(job_id)))
        if listed:
            self.store.delete_sync([info.key for info in listed])

    def sweep(self) -> int:
        """Delete what no live job, record or upload owns; answers how many objects' owners went."""
        swept = self._sweep_inputs() + self._sweep_results() + self._sweep_uploads() + self._sweep_files()
        return swept + self._sweep_batch_parts()

    def _by_job(self, prefix: str) -> dict[str, list[BlobInfo]]:
        """The objects under ``prefix/<job id>/...``, by job id."""
        by_job: dict[str, list[BlobInfo]] = defaultdict(list)
        for info in self.store.list_sync(prefix):
            parts = info.key.split("/")
            if len(parts) >= 3:
                by_job[parts[1]].append(info)
        return by_job

    def _statuses(self, job_ids: list[str]) -> dict[str, str | None]:
        """Each job's status (``None``: no record)."""
        with self.client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(keys.job(job_id), "status")
            return dict(zip(job_ids, pipe.execute(), strict=True))

    def _sweep_inputs(self) -> int:
        by_job = self._by_job(JOBS)
        if not by_job:
            return 0
        statuses = self._statuses(list(by_job))
        grace = datetime.now(UTC) - timedelta(seconds=self.settings.blob_orphan_grace_s)
        deleted = 0
        for job_id, found in by_job.items():
            status = statuses[job_id]
            if status in _LIVE:
                continue
            if status is None and max(info.last_modified for info in found) > grace:
                continue  # its submit may still be on its way to recording it
            self._delete_job(job_id, found)
            deleted += 1
        if deleted:
            log.warning("blob sweep: deleted the inputs of %d job(s) no live record owns", deleted)
        return deleted

    def _sweep_results(self) -> int:
        deleted = 0
        batch: list[BlobInfo] = []
        for info in self.store.list_sync(RESULTS):
            batch.append(info)
            if len(batch) == _RESULTS_BATCH:
                deleted += self._delete_unnamed(batch)
                batch = []
        if batch:
            deleted += self._delete_unnamed(batch)
        if deleted:
            log.warning("blob sweep: deleted %d result(s) no record names", deleted)
        return deleted

    def _delete_unnamed(self, found: list[BlobInfo]) -> int:
        """Delete those of ``found`` (``results/<id>/<attempt>.json``) that no live job may still name."""
        ids = [info.key.split("/")[1] for info in found]
        with self.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(keys.job(job_id), "status", "result_ref")
            answers = pipe.execute()
        gone = []
        for info, (status, ref) in zip(found, answers, strict=True):
            if status in _LIVE:
                continue
            if status is not None and ref and ResultRef.model_validate_json(ref).key == info.key:
                continue  # its job's result
            gone.append(info.key)
        if gone:
            self.store.delete_sync(gone)
        return len(gone)

    def _sweep_uploads(self) -> int:
        # Listed whole before any delete: a directory emptied under a listing ends it early.
        found = [info.key for info in self.store.list_sync(UPLOADS)]
        deleted = sum(
            self._delete_expired_uploads(found[n : n + _GONE_BATCH]) for n in range(0, len(found), _GONE_BATCH)
        )
        if deleted:
            log.info("blob sweep: deleted %d upload(s) whose records expired", deleted)
        return deleted

    def _delete_expired_uploads(self, found: list[str]) -> int:
        with self.client.pipeline(transaction=False) as pipe:
            for key in found:
                pipe.exists(keys.upload(key.rsplit("/", 1)[1]))
            gone = [key for key, live in zip(found, pipe.execute(), strict=True) if not live]
        if gone:
            self.store.delete_sync(gone)
        return len(gone)

    def _sweep_files(self) -> int:
        by_job = self._by_job(FILES)
        if not by_job:
            return 0
        statuses = self._statuses(list(by_job))
        kept = _LIVE | {JobStatus.succeeded.value}
        gone = [info.key for job_id, found in by_job.items() if statuses[job_id] not in kept for info in found]
        if gone:
            self.store.delete_sync(gone)
            log.info("blob sweep: deleted %d file(s) of jobs that ended without them or expired", len(gone))
        return len(gone)

    def _sweep_batch_parts(self) -> int:
        by_batch = self._by_job(BATCHES)
        if not by_batch:
            return 0
        active = {text(i) for i in self.client.smembers(keys.BATCHES_ACTIVE)}
        gone = [info.key for batch_id, found in by_batch.items() if batch_id not in active for info in found]
        if gone:
            self.store.delete_sync(gone)
            log.info("blob sweep: deleted %d part(s) of batches that ended", len(gone))
        return len(gone)
