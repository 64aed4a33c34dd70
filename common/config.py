"""Core settings shared by the API and the workers, read from the environment."""

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.blobs.location import default_store_url, parse_store_url


class CoreSettings(BaseSettings):
    """Broker, job records and the task limits every domain lives under."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Broker and job store.")
    job_ttl_s: int = Field(7 * 24 * 3600, gt=0, description="How long job records live.")
    # A job past the soft limit fails (TimeLimitExceeded); one that does not stop by the hard
    # limit is killed with its process (prefork) or takes its worker down (threads, solo: the
    # supervisor restarts it). Per domain over these defaults, e.g. {"llm": 600}; a job may ask
    # for less (``time_limit_s``), never for more.
    task_soft_time_limit_s: float = Field(1700, gt=0, description="A job past it fails.")
    task_hard_time_limit_s: float = Field(1800, gt=0, description="A job past it is killed.")
    task_soft_time_limit_s_by_domain: dict[str, float] = Field(default_factory=dict)
    task_hard_time_limit_s_by_domain: dict[str, float] = Field(default_factory=dict)
    # Redis redelivers a message still unacked after this. A job running longer is not run
    # twice: its redelivered message meets its live lease and is skipped (``lifecycle.start``).
    broker_visibility_timeout_s: int = Field(3600, gt=0)
    # How often a worker sweeps for messages whose worker died (unacked past the timeout).
    broker_restore_interval_s: int = Field(10, gt=0)
    # Every accepted job finishes: a running job holds a lease its worker renews every third of
    # it; the reconciler (any API or worker process, one at a time) publishes again a job whose
    # lease ran out or whose message went missing. So a killed worker's jobs run again within
    # about JOB_LEASE_S + RECONCILE_INTERVAL_S, whatever the broker's visibility timeout.
    job_lease_s: float = Field(15, ge=3, description="How long a run's lease lasts without a heartbeat.")
    reconcile_interval_s: float = Field(2, gt=0, description="How often the reconciler looks.")
    job_max_attempts: int = Field(3, gt=0, description="Runs of a job that may be lost before it fails.")
    # Fair share (common/fair.py): jobs wait in Redis in fair order and only as many move on
    # to a domain's Celery queue as its workers online have free slots, plus this buffer.
    # Workers say they are online every WORKER_HEARTBEAT_S (2 s); a busy host can delay a beat.
    workers_offline_after_s: float = Field(
        15, gt=0, description="How long after its last heartbeat a worker still counts as online."
    )
    dispatch_buffer: int = Field(2, ge=0, le=1000, description="Jobs dispatched beyond the free slots of a domain.")
    batch_min_share: float = Field(
        0.05, ge=0, le=0.5, description="Share of dispatches batch jobs get while interactive ones wait."
    )
    # A worker that cannot reach Redis to start, report or finish a job retries this long.
    redis_retry_s: float = Field(60, ge=0, description="How long workers retry Redis before giving up a job.")
    # Task events feed Flower (what runs where, for how long): a few extra Redis writes per job.
    worker_send_task_events: bool = True
    # Webhooks to loopback/private/link-local addresses are refused (SSRF), unless allowed:
    # scripts/dev.sh allows them, for receivers on the same machine.
    webhook_allow_private: bool = False
    # Inputs by URL (``image_url``): the worker fetches them under the same rule, the input's own
    # size cap (the API's, sent with the job) and this deadline for the whole fetch, redirects
    # included. scripts/dev.sh and the tests allow private addresses, for local servers.
    input_url_allow_private: bool = Field(
        False, description="Let workers fetch inputs by URL from loopback, private or link-local addresses."
    )
    input_url_timeout_s: float = Field(
        30, gt=0, description="The deadline of one input fetch by URL, redirects included."
    )
    # Big bytes (inputs, documents, large results) live in the blob store, not in Redis
    # (common.blobs): a directory every process of the host mounts, or an S3 bucket.
    blob_store_url: str = Field(
        default_factory=default_store_url, description="file:///absolute/path or s3://bucket[/prefix]."
    )
    blob_inline_max_bytes: int = Field(
        256 * 1024, ge=0, description="Inputs up to this size stay inline in Redis; larger ones go to the blob store."
    )
    result_inline_max_bytes: int = Field(
        256 * 1024,
        ge=0,
        description="Results up to this size (their JSON) stay in the job's record; larger ones go to the blob store.",
    )
    # A worker finishing a job while the store is down retries this long, then fails the job
    # (ResultStoreUnavailable) rather than putting a large result into Redis.
    result_store_retry_s: float = Field(
        60, ge=0, description="How long a worker retries storing a large result before failing its job."
    )
    # A store that is down fails a call in seconds (a few retries within 10 s), not minutes.
    blob_sweep_interval_s: float = Field(
        300, gt=0, description="How often the reconciler's leader looks for blobs no live job owns."
    )
    blob_orphan_grace_s: float = Field(
        600, gt=0, description="How old an object of a job with no record must be before the sweep deletes it."
    )
    blob_connect_timeout_s: float = Field(3, gt=0, description="Connecting to the S3 endpoint, per try.")
    blob_request_timeout_s: float = Field(30, gt=0, description="One S3 request (one upload part), per try.")
    # S3 (s3:// URLs). Unset credentials and region are found the standard AWS ways (AWS_* in
    # the environment, an instance or pod role); S3_ENDPOINT_URL unset: AWS itself.
    s3_endpoint_url: str = Field("", description="A self-hosted S3's URL (SeaweedFS, MinIO): path-style, http allowed.")
    # Presigned URLs are signed for the host clients send them to: where clients reach the
    # store by another address than the services do (a proxy, a published port), name it here.
    s3_public_endpoint_url: str = Field(
        "", description="The S3 endpoint clients reach, for presigned upload URLs; empty: S3_ENDPOINT_URL's."
    )
    aws_access_key_id: str = ""
    aws_secret_access_key: SecretStr = SecretStr("")
    aws_session_token: SecretStr = SecretStr("")
    aws_region: str = Field("", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    log_format: str = Field("text", pattern="^(text|json)$")
    log_level: str = "INFO"

    def time_limits(self, domain: str) -> tuple[float, float]:
        """The domain's (soft, hard) time limits in seconds."""
        return (
            self.task_soft_time_limit_s_by_domain.get(domain, self.task_soft_time_limit_s),
            self.task_hard_time_limit_s_by_domain.get(domain, self.task_hard_time_limit_s),
        )

    @field_validator("blob_store_url")
    @classmethod
    def _blob_store_url_is_known(cls, url: str) -> str:
        parse_store_url(url)  # a wrong URL stops the process at start, naming the forms it takes
        return url

    @model_validator(mode="after")
    def _limits_are_ordered(self) -> "CoreSettings":
        domains = {"", *self.task_soft_time_limit_s_by_domain, *self.task_hard_time_limit_s_by_domain}
        for domain in sorted(domains):  # "": the defaults
            soft, hard = self.time_limits(domain)
            if not 0 < soft < hard:
                where = f" (domain {domain})" if domain else ""
                raise ValueError(f"TASK_SOFT_TIME_LIMIT_S must be above 0 and below TASK_HARD_TIME_LIMIT_S{where}")
        return self
