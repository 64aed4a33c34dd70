"""OpenAI's Batch API (``/openai/v1/batches``): a JSONL file of requests in, files of answers out.

::

    POST /batches ──▶ validating ──(every line checked)──▶ in_progress ──▶ finalizing ──▶ completed
                          │ bad lines                        │  │ cancel         (files written)
                          ▼                                  │  └─▶ cancelling ──▶ finalizing ──▶ cancelled
                        failed (``errors``: line, message)    └─ window passed ──▶ finalizing ──▶ expired

A batch is a record in Redis (``common.keys``: ``dq:batch:<id>``), stepped by the API
processes (``runner``): one at a time holds its lock, and every write it makes is checked
against the lock's token in the same Lua script, so a process that stalled and lost the lock
changes nothing. Each step, the holder

- *collects*: line jobs that ended are written as a part of the output file (answers, in the
  bodies the interactive routes give) and one of the error file (failed lines); the parts are
  listed, the lines leave the set in flight and the counts move in one script
  (``batch_collect.lua``), so a line is in the files exactly once whatever crashes;
- *feeds*: the next lines of the input file (read from the blob store by byte range) are
  submitted as jobs of priority ``batch`` (``common.fair``), as many as keep ``BATCH_WINDOW``
  in flight: the queues get them at the pace the workers take them, not 50,000 at once.
  Each line's submit carries an idempotency key made of the batch and line, so a line fed
  again after a crash answers the job it made;
- *finalizes*: once no line is left, the listed parts are joined into the output and error
  files (uploads, ``api.openai.files``), then the batch ends.

A line is a job like any other (leases, reconciler, retries), so a worker's or Redis's death
is what the jobs already survive; the API's death leaves the lock to run out, and another API
process (or the same one, restarted) takes the batch on from its record.
"""
