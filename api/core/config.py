"""API settings: the core ones plus which domains this process serves and upload caps."""

from functools import lru_cache

from pydantic import Field

from common.config import CoreSettings


class ApiSettings(CoreSettings):
    # One name, a comma list or "all": the seed's DOMAIN, widened so one API can front many.
    domain: str = Field("all", description="Domains whose routes this API serves.")
    max_upload_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest input file accepted.")


@lru_cache
def get_api_settings() -> ApiSettings:
    """The process-wide API settings; tests call ``get_api_settings.cache_clear()``."""
    return ApiSettings()
