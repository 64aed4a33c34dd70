"""API settings: the core ones plus which domains this process serves, access and quotas."""

from functools import lru_cache
from typing import TypeVar, cast

from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings

from common.config import CoreSettings

S = TypeVar("S", bound=BaseSettings)


class ApiSettings(CoreSettings):
    # One name, a comma list or "all": the seed's DOMAIN, widened so one API can front many.
    domain: str = Field("all", description="Domains whose routes this API serves.")
    max_upload_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest input file accepted.")
    # Uploads (POST /v1/uploads) go to the blob store, never whole into memory: their cap can be
    # larger than an image's (documents, batch files). A job takes one within its own input cap.
    max_stored_upload_bytes: int = Field(200 * 1024 * 1024, gt=0, description="Largest upload accepted.")
    # At most 7 days: the longest a presigned URL (AWS Signature V4) may last.
    upload_ttl_s: int = Field(
        24 * 3600, ge=1, le=7 * 24 * 3600, description="How long an upload lives; a job that uses it keeps a copy."
    )
    upload_quota_bytes_per_key: int = Field(
        5 * 1024**3, ge=0, description="Declared bytes of a key's live uploads at most (0: no limit)."
    )
    # The API's Redis pool waits for a free connection rather than failing at its size, so a burst
    # of requests queues for a moment instead of answering false 503s.
    redis_max_connections: int = Field(512, ge=1, description="Redis connections per API process.")
    redis_pool_wait_s: float = Field(
        10, gt=0, description="How long a request waits for a free Redis connection before 503."
    )
    # An event stream with nothing to send sends a comment this often (proxies close idle ones).
    events_heartbeat_s: float = Field(15, gt=0, description="Heartbeat interval of job event streams.")

    # Access: a Bearer API key on every route but /healthz and /readyz.
    auth: bool = Field(True, description="Require API keys (AUTH=off: only for a trusted single-user box).")
    admin_api_key: SecretStr | None = Field(None, description="A bootstrap admin key, e.g. from a deployment secret.")
    metrics_require_key: bool = Field(False, description="Put /metrics behind a key too.")
    docs_require_key: bool = Field(False, description="Put /docs and /openapi.json behind a key too.")
    cors_origins: str = Field("", description="Comma list of browser origins allowed to call the API; empty: none.")

    # Quotas: per key (its record overrides the defaults; 0 means no limit) and per domain.
    default_rate_limit_per_minute: int = Field(600, ge=0, description="Submissions a minute per key.")
    default_max_jobs_in_flight: int = Field(1000, ge=0, description="Jobs queued or running at once per key.")
    # Redis's memory is for records and messages: inputs ride in it only up to a budget (then
    # to the blob store), and submits stop short of maxmemory so workers can still finish jobs.
    redis_inline_budget_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="Bytes of inputs all jobs may hold inline in Redis at once (0: no limit)."
    )
    redis_submit_watermark: float = Field(
        0.9, gt=0, le=1, description="Share of Redis's maxmemory past which submits answer 503 redis_full."
    )
    max_queue_depth: int = Field(10_000, ge=0, description="Jobs waiting in a domain's queue before 503 queue_full.")
    max_queue_depth_by_domain: dict[str, int] = Field(
        default_factory=dict, description='Per-domain caps as JSON, e.g. {"ocr": 500}.'
    )
    # Each long-poll and event stream holds a connection and a waiter: a key's share of them.
    max_waits_per_key: int = Field(
        100, ge=0, description="Long-polls and event streams a key holds open at once, per API process (0: no limit)."
    )
    # OpenAI batches (api.openai.batches): each feeds its lines as jobs, this many in flight at a
    # time; the fair share decides between them and everyone's interactive jobs.
    batch_window: int = Field(256, ge=1, le=10_000, description="A batch's line jobs in flight at once.")
    batch_max_in_progress_per_key: int = Field(
        10, ge=0, description="Batches a key has in progress at once (0: no limit)."
    )
    batch_completion_window_s: float = Field(
        24 * 3600, gt=0, description='How long "completion_window": "24h" lasts (shorter for tests and drills).'
    )
    batch_step_s: float = Field(0.5, gt=0, description="How often each API process steps the batches in progress.")

    # Each domain's own settings (its class, its prefix: LLM_*, OCR_*), kept with these so an app
    # holds all it was built with: read on first use, unless given by ``with_domain_settings``.
    _domain_settings: dict[type[BaseSettings], BaseSettings] = PrivateAttr(default_factory=dict)

    def domain_settings(self, kind: type[S]) -> S:
        """The settings of class ``kind`` that go with these (read once, or as given)."""
        if kind not in self._domain_settings:
            self._domain_settings[kind] = kind()
        return cast(S, self._domain_settings[kind])

    def with_domain_settings(self, *given: BaseSettings) -> "ApiSettings":
        """A copy of these settings with ``given`` as its domains' settings (one per class)."""
        copy = self.model_copy()
        copy._domain_settings = {**self._domain_settings, **{type(settings): settings for settings in given}}
        return copy

    @field_validator("admin_api_key")
    @classmethod
    def _strong_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < 32:
            raise ValueError("ADMIN_API_KEY must be at least 32 random characters (e.g. python -m api.keys new-secret)")
        return key

    def queue_cap(self, domain: str) -> int:
        return self.max_queue_depth_by_domain.get(domain, self.max_queue_depth)

    @property
    def allowed_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


@lru_cache
def get_api_settings() -> ApiSettings:
    """The process-wide API settings; tests call ``get_api_settings.cache_clear()``."""
    return ApiSettings()
