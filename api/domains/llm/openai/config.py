"""Settings of the OpenAI-compatible routes (``OPENAI_COMPAT_`` prefix)."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpenAICompatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENAI_COMPAT_", env_file=".env", extra="ignore")

    # Workers know which model they load; the API does not, so the served ids are named here
    # (set them to match LLM_MODEL / LLM_EMBED_MODEL when those change).
    chat_model: str = Field("SmolLM2-135M-Instruct", description="Model id /openai/v1 serves for chat and completions.")
    embedding_model: str = Field("all-MiniLM-L6-v2", description="Model id /openai/v1 serves for embeddings.")


@lru_cache
def get_openai_compat_settings() -> OpenAICompatSettings:
    return OpenAICompatSettings()
