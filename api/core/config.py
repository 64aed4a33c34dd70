"""API settings: the core ones plus which domains this process serves and upload caps."""

from functools import lru_cache

from pydantic import Field

from common.config import CoreSettings


class ApiSettings(CoreSettings):
    # One name, a comma list or "all": the seed's DOMAIN, widened so one API can front many.
    domain: str = Field("all", description="Domains whose routes this API serves.")
    max_upload_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest input file accepted.")
    # Workers online (/metrics, /v1/domains) come from a broadcast that always lasts its timeout,
    # so it is cached: at most one probe per interval, and only when asked.
    workers_probe_timeout_s: float = Field(0.5, gt=0, le=10, description="How long workers get to answer.")
    workers_probe_interval_s: float = Field(5, ge=0, description="How old a workers-online count may get.")


@lru_cache
def get_api_settings() -> ApiSettings:
    """The process-wide API settings; tests call ``get_api_settings.cache_clear()``."""
    return ApiSettings()
