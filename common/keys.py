"""Every Redis key and channel the platform writes: the one layout, in one place.

Prefix ``dq:`` (job records and everything kept beside them):
- ``dq:job:<id>``: the job's record, a hash (``common.records.JobRecord``);
- ``dq:job:<id>:blob:<name>``: a large input (an image) kept beside the message, not in it;
- ``dq:job:<id>:pages``: a document's page jobs, in page order (``common.documents``);
- ``dq:job:<id>:message``: its Celery message while it waits in its fair queue (``common.fair``);
- ``dq:job:<id>:events``: the job's events (a stream: status changes and progress), replayed
  by ``GET /v1/jobs/{id}/events``; it expires with the record;
- ``dq:running:<domain>``: a set of the ids running now;
- ``dq:fair:<domain>:<class>``: the ids waiting in the domain's fair queue of a priority class
  (``interactive``, ``batch``), scored by their virtual start tag; ``...:clock`` the start tag
  last dispatched, ``...:last`` each key's last finish tag; ``dq:fair:<domain>:turns`` counts the turns
  batch jobs had while interactive ones waited; ``dq:fair:config`` the dispatch settings
  (``common.fair``);
- ``dq:queued:<domain>``: the ids dispatched to the Celery queue and not started yet, scored by
  when their message was (last) published (ms): what the reconciler checks for messages gone
  missing;
- ``dq:leases``: the ids running now, scored by when their lease runs out (ms); the worker
  running a job renews it, so an old score means that worker died;
- ``dq:domains``: the domains that have ever had a job (the reconciler walks them);
- ``dq:reconciler``: the lock held by the one process reconciling at a time;
- ``dq:readyz``: written and deleted at once by ``GET /readyz``, to see that Redis takes writes;
- ``dq:deadlines``: jobs with a ``Cancel-After`` deadline, scored by it (ms); the reconciler
  expires the ones past it;
- ``dq:runtimes:<domain>``: the run times (ms) of the domain's last finished jobs, for ETAs;
- ``dq:jobs:all`` / ``dq:jobs:owner:<key id>``: job ids by creation time (ms), for listing
  (trimmed to what can still have a record);
- ``dq:idem:<key id>:<sha256 of the Idempotency-Key>``: ``<job id> <body fingerprint>``, 24 h;
- ``dq:hook:<webhook id>``: a webhook delivery (job, event type, the job as it was then,
  attempts, the current claim), and ``dq:hooks:due`` the deliveries scored by when they are due
  (ms): the hooks worker's pump claims them (re-scored to when the claim runs out) and its
  ``hooks.deliver`` tasks send them (``workers/domains/hooks``);
- ``dq:whsec:<key id>``: the key's webhook signing secret, and ``dq:whsec:<key id>:previous``
  the one it replaced, kept for a while after a rotation (it expires);
- ``dq:workers:seen`` / ``dq:workers:info``: the workers online: each node scored by its last
  heartbeat (ms), and its ``<domain> <slots>`` (``common.presence``);
- ``dq:inline:bytes``: the bytes of inputs held inline in Redis now (``dq:job:<id>:blob:*``),
  kept under ``REDIS_INLINE_BUDGET_BYTES`` by the submit script;
- ``dq:blobs:gone``: ids of ended jobs whose inputs in the blob store (``common.blobs``) are
  still to delete: the reconciler's leader deletes them;
- ``dq:upload:<id>``: an upload (``POST /v1/uploads``), a hash that expires with it: its owner,
  declared bytes, content type, filename, created and expiry times (``common.uploads``); its
  bytes, once they arrive, are the blob ``uploads/<id>``;
- ``dq:uploads:owner:<key id>``: the key's live uploads, scored by when they expire (ms): its
  storage quota counts their declared bytes;
- ``dq:metered:<id>``: which API process counted the job's finish in its metrics (a claim
  that expires; ``api.core.finished_meter``);
- ``dq:batch:<id>``: an OpenAI batch's record, a hash (``api.openai.batches``): its owner,
  endpoint, input file, status and times, counts, where feeding its lines stands (byte offset,
  line number); ``...:live`` the ids of its line jobs in flight, ``...:lines`` each one's line
  number and ``custom_id``, ``...:out`` / ``...:err`` the blob keys of its output and error
  parts in order, ``...:lock`` the token of the one API process stepping it now;
- ``dq:batches:active``: the batches not ended; ``dq:batches:owner:<key id>`` a key's batches by
  creation time (ms), ``...:active`` its batches not ended (its limit of batches in progress);
- channel ``dq:jobs:events``: ``<id> <status>`` on every change of a job (``<id> progress`` for
  progress), waking long-polls and event streams; finishes also feed the meters.

API keys (``common.apikeys``):
- ``dq:apikey:<sha256 of the secret>``: a key's record, a hash (the secret itself is never stored);
- ``dq:apikeys``: a hash from key id to that sha256, to list and revoke keys by id;
- ``dq:rate:<key id>``: the key's rate limiter state (GCRA: the theoretical arrival time, ms);
- ``dq:inflight:<key id>``: a set of the key's jobs that are queued or running.

Not ours, listed so nothing else takes the names: kombu's Redis transport keeps a Celery queue
as a list named after the queue (the domain), one list per priority step
(``<queue>\\x06\\x16<step>``), and ``unacked`` / ``unacked_index`` for delivered messages.
"""

PREFIX = "dq:"
EVENTS_CHANNEL = PREFIX + "jobs:events"
# Prefixes for Lua scripts that append the domain or owner they read from a record.
RUNNING_PREFIX = PREFIX + "running:"
QUEUED_PREFIX = PREFIX + "queued:"
JOB_PREFIX = PREFIX + "job:"
LEASES = PREFIX + "leases"
DOMAINS = PREFIX + "domains"
RECONCILER_LOCK = PREFIX + "reconciler"
READY_PROBE = PREFIX + "readyz"
# kombu's Redis transport: delivered messages not yet acked, by delivery tag.
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
INFLIGHT_PREFIX = PREFIX + "inflight:"
APIKEYS = PREFIX + "apikeys"


BLOB_INFIX = ":blob:"
EVENTS_SUFFIX = ":events"
MESSAGE_SUFFIX = ":message"
PAGES_SUFFIX = ":pages"
DEADLINES = PREFIX + "deadlines"
RUNTIMES_PREFIX = PREFIX + "runtimes:"
ALL_JOBS = PREFIX + "jobs:all"
OWNER_JOBS_PREFIX = PREFIX + "jobs:owner:"
HOOK_PREFIX = PREFIX + "hook:"
BLOBS_GONE = PREFIX + "blobs:gone"
INLINE_BYTES = PREFIX + "inline:bytes"
FAIR_PREFIX = PREFIX + "fair:"
FAIR_CONFIG = PREFIX + "fair:config"
WORKERS_SEEN = PREFIX + "workers:seen"
WORKERS_INFO = PREFIX + "workers:info"
HOOKS_DUE = PREFIX + "hooks:due"
WHSEC_PREFIX = PREFIX + "whsec:"
WHSEC_PREVIOUS_SUFFIX = ":previous"
UPLOAD_PREFIX = PREFIX + "upload:"
OWNER_UPLOADS_PREFIX = PREFIX + "uploads:owner:"
BATCH_PREFIX = PREFIX + "batch:"
BATCHES_ACTIVE = PREFIX + "batches:active"
OWNER_BATCHES_PREFIX = PREFIX + "batches:owner:"
# A job's event stream keeps this many entries at most (about: Redis trims in whole nodes).
EVENTS_MAX = 1000
# Webhook deliveries of progress: one per job at most this often.
HOOK_PROGRESS_MS = 500
# A delivery's record outlives any retry horizon it can be given.
HOOK_TTL_S = 8 * 24 * 3600
# How many recent run times ETAs are computed from.
RUNTIMES_KEPT = 100


def job(job_id: str) -> str:
    return JOB_PREFIX + job_id


def blob(job_id: str, name: str) -> str:
    return JOB_PREFIX + job_id + BLOB_INFIX + name


def lua_constants() -> dict[str, str]:
    """The layout as Lua scripts see it: ``{{NAME}}`` in a script becomes the value."""
    return {
        "JOB": JOB_PREFIX,
        "BLOB_INFIX": BLOB_INFIX,
        "RUNNING": RUNNING_PREFIX,
        "QUEUED": QUEUED_PREFIX,
        "INFLIGHT": INFLIGHT_PREFIX,
        "LEASES": LEASES,
        "DOMAINS": DOMAINS,
        "EVENTS": EVENTS_CHANNEL,
        "UNACKED": UNACKED,
        "UNACKED_INDEX": UNACKED_INDEX,
        "EVENTS_SUFFIX": EVENTS_SUFFIX,
        "MESSAGE_SUFFIX": MESSAGE_SUFFIX,
        "PAGES_SUFFIX": PAGES_SUFFIX,
        "EVENTS_MAX": str(EVENTS_MAX),
        "DEADLINES": DEADLINES,
        "RUNTIMES": RUNTIMES_PREFIX,
        "RUNTIMES_KEPT": str(RUNTIMES_KEPT),
        "ALL_JOBS": ALL_JOBS,
        "OWNER_JOBS": OWNER_JOBS_PREFIX,
        "HOOK": HOOK_PREFIX,
        "HOOKS_DUE": HOOKS_DUE,
        "WHSEC": WHSEC_PREFIX,
        "WHSEC_PREVIOUS": WHSEC_PREVIOUS_SUFFIX,
        "HOOK_PROGRESS_MS": str(HOOK_PROGRESS_MS),
        "HOOK_TTL_S": str(HOOK_TTL_S),
        "BLOBS_GONE": BLOBS_GONE,
        "INLINE_BYTES": INLINE_BYTES,
        "FAIR": FAIR_PREFIX,
        "FAIR_CONFIG": FAIR_CONFIG,
        "WORKERS_SEEN": WORKERS_SEEN,
        "WORKERS_INFO": WORKERS_INFO,
        "UPLOAD": UPLOAD_PREFIX,
    }


def events(job_id: str) -> str:
    return JOB_PREFIX + job_id + EVENTS_SUFFIX


def fair_queue(domain: str, priority: str) -> str:
    return f"{FAIR_PREFIX}{domain}:{priority}"


def runtimes(domain: str) -> str:
    return RUNTIMES_PREFIX + domain


def owner_jobs(key_id: str) -> str:
    return OWNER_JOBS_PREFIX + key_id


def idempotency(key_id: str, key_hash: str) -> str:
    return f"{PREFIX}idem:{key_id}:{key_hash}"


def hook(hook_id: str) -> str:
    return HOOK_PREFIX + hook_id


def webhook_secret(key_id: str) -> str:
    return WHSEC_PREFIX + key_id


def previous_webhook_secret(key_id: str) -> str:
    return WHSEC_PREFIX + key_id + WHSEC_PREVIOUS_SUFFIX


def running(domain: str) -> str:
    return RUNNING_PREFIX + domain


def queued(domain: str) -> str:
    return QUEUED_PREFIX + domain


def metered(job_id: str) -> str:
    return f"{PREFIX}metered:{job_id}"


def upload(upload_id: str) -> str:
    return UPLOAD_PREFIX + upload_id


def owner_uploads(key_id: str) -> str:
    return OWNER_UPLOADS_PREFIX + key_id


def apikey(secret_hash: str) -> str:
    return f"{PREFIX}apikey:{secret_hash}"


def rate(key_id: str) -> str:
    return f"{PREFIX}rate:{key_id}"


def inflight(key_id: str) -> str:
    return INFLIGHT_PREFIX + key_id


def batch(batch_id: str, part: str = "") -> str:
    """A batch's record, or (``part``: ``live``, ``lines``, ``out``, ``err``, ``lock``) what is kept beside it."""
    return BATCH_PREFIX + batch_id + (":" + part if part else "")


def owner_batches(key_id: str, active: bool = False) -> str:
    return OWNER_BATCHES_PREFIX + key_id + (":active" if active else "")


# kombu's Redis transport: a queue is a list under its name, plus one list per priority step
# for messages sent with a priority.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_lists(queue: str) -> list[str]:
    """The Redis lists holding the waiting messages of a Celery queue."""
    return [queue] + [f"{queue}{_PRIORITY_SEP}{step}" for step in _PRIORITY_STEPS]
