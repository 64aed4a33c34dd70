"""Hooks worker settings (``WEBHOOK_`` prefix; ``WEBHOOK_ALLOW_PRIVATE`` is a core setting)."""

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common import keys


class HooksSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEBHOOK_", env_file=".env", extra="ignore")

    timeout_s: float = Field(10, gt=0, le=300, description="How long one attempt may take, connecting included.")
    # Attempt n+1 waits a random time between half and all of min(max delay, base * 2^(n-1)).
    retry_base_s: float = Field(5, gt=0, description="The first retry's delay, before jitter.")
    retry_max_delay_s: float = Field(3600, gt=0, description="The longest delay between two attempts.")
    retry_horizon_s: float = Field(
        24 * 3600, gt=0, le=keys.HOOK_TTL_S - 3600, description="No attempt later than this after the event."
    )
    max_attempts: int = Field(50, ge=1, description="Attempts of one delivery at most, the first included.")
    poll_interval_s: float = Field(0.2, gt=0, le=10, description="How often the pump looks for due deliveries.")
    # A claimed delivery whose worker died is handed out again after this.
    claim_timeout_s: float = Field(60, gt=0, description="How long a claimed delivery waits for its send.")
    queue_max: int = Field(1000, ge=1, description="Most delivery messages waiting in the hooks queue.")

    @model_validator(mode="after")
    def _claim_outlasts_a_send(self) -> "HooksSettings":
        if self.claim_timeout_s < self.timeout_s + 10:
            raise ValueError("WEBHOOK_CLAIM_TIMEOUT_S must be at least WEBHOOK_TIMEOUT_S + 10")
        return self


@lru_cache
def get_hooks_settings() -> HooksSettings:
    return HooksSettings()
