"""Fair share between API keys, and priority classes, inside each domain.

::

    submit ──▶ fair queue (per domain and class, ordered by virtual finish tag)
                  │  dispatch: while the domain's workers have free slots (+ a buffer)
                  ▼
               Celery queue ──▶ worker ──▶ running ──▶ end ──▶ dispatch the next

Start-time fair queuing: a job's start tag is ``max(queue clock, its key's last finish tag)``,
its finish tag ``start + 1 / weight``; the clock is the start tag last dispatched. Dispatch
pops the smallest start tag, so keys share a domain's slots in proportion to their weights, a
key alone runs in arrival order, and a key that floods the queue cannot make another key's
next job wait behind its backlog: that job starts at the clock, right after the jobs already
dispatched (at most the slots and the buffer). ``interactive`` jobs go before
``batch`` ones; batch jobs still get every ``batch_every``-th turn while both wait
(``BATCH_MIN_SHARE``), so they never starve.

Only ``free = slots + buffer - dispatched - running`` jobs are in the Celery queue at a time
(slots: the domain's workers online, ``common.presence``), so the order is decided in Redis
at the last moment, by Lua scripts (``lua/_dispatch.lua``), across any number of API and
worker processes and through their restarts. Dispatch runs inside the submit script, inside
every end of a job (``end_job``), on every worker heartbeat, and in each reconciler pass.
Settings every process writes at start (``fair_config``): how long a silent worker still
counts, the buffer, and the batch share.
"""

import math
from enum import StrEnum

from common.config import CoreSettings
from common.scripts import Call


class Priority(StrEnum):
    """A job's class: ``interactive`` (the default) runs first; ``batch`` when no interactive
    job waits, and in its minimum share of turns when one does."""

    interactive = "interactive"
    batch = "batch"


def batch_every(share: float) -> int:
    """Every how many dispatches a batch job goes first while interactive ones wait."""
    return max(1, math.ceil(1 / share)) if share > 0 else 2**31


def configure(settings: CoreSettings) -> Call[int]:
    """Write the dispatch settings the Lua scripts read."""
    args = [
        int(settings.workers_offline_after_s * 1000),
        settings.dispatch_buffer,
        batch_every(settings.batch_min_share),
    ]
    return Call("fair_config", [], args, int)


def dispatch(domain: str) -> Call[int]:
    """Fill the domain's free slots from its fair queues; answers how many jobs moved."""
    return Call("dispatch", [], [domain], int)
