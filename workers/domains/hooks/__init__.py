"""Hooks: signed webhook deliveries of job changes, sent and retried off the job workers.

Not a job domain (``JOBS = False``): it has no API routes and runs no jobs. Its worker
(``DOMAIN=hooks python -m workers``) consumes the ``hooks`` queue; a pump in its main process
hands it the deliveries that are due. It needs no model library, so it runs from the API image.
"""

EXTRA = None  # nothing beyond the platform's own dependencies
REQUIRES = ()
JOBS = False
# Deliveries wait on the network, not on a CPU: many threads in one process.
POOL = "threads"
CONCURRENCY = 32
