"""Core settings shared by the API and the workers, read from the environment."""

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    """Broker, job records and the task limits every domain lives under."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Broker and job store.")
    job_ttl_s: int = Field(7 * 24 * 3600, gt=0, description="How long job records live.")
    # Long GPU jobs: a task past the hard limit is killed; Redis redelivers an unacked
    # message after the visibility timeout, so that timeout must outlast the hard limit or
    # a healthy long job would run twice (celery#5306).
    task_soft_time_limit_s: int = Field(1700, gt=0)
    task_hard_time_limit_s: int = Field(1800, gt=0)
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
    # A worker that cannot reach Redis to start, report or finish a job retries this long.
    redis_retry_s: float = Field(60, ge=0, description="How long workers retry Redis before giving up a job.")
    # Task events feed Flower (what runs where, for how long): a few extra Redis writes per job.
    worker_send_task_events: bool = True
    log_format: str = Field("text", pattern="^(text|json)$")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _limits_are_ordered(self) -> "CoreSettings":
        if not self.task_soft_time_limit_s < self.task_hard_time_limit_s:
            raise ValueError("TASK_SOFT_TIME_LIMIT_S must be below TASK_HARD_TIME_LIMIT_S")
        if not self.task_hard_time_limit_s < self.broker_visibility_timeout_s:
            raise ValueError(
                "BROKER_VISIBILITY_TIMEOUT_S must exceed TASK_HARD_TIME_LIMIT_S, "
                "else Redis redelivers jobs that are still running"
            )
        return self
