"""LLM domain contract: ``llm.generate`` (text from a prompt or chat) and ``llm.embed``."""

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.contracts.jobs import TimeLimit, WebhookOptions

DOMAIN = "llm"
GENERATE = "generate"
EMBED = "embed"


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)

    @field_validator("content")
    @classmethod
    def _bounded(cls, content: str) -> str:
        return _bounded_text(content, get_llm_limits().max_message_chars)


class GenerateRequest(BaseModel):
    """Exactly one of ``prompt`` (raw text) or ``messages`` (the model's chat template applied)."""

    prompt: str | None = Field(None, min_length=1)
    messages: list[ChatMessage] | None = Field(None, min_length=1)
    max_new_tokens: int = Field(128, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="0 means greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list, description="Stop before any of these strings.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Makes sampling repeatable.")
    time_limit_s: TimeLimit = None

    @field_validator("max_new_tokens")
    @classmethod
    def _under_the_cap(cls, value: int) -> int:
        return _capped(value, get_llm_limits().max_new_tokens_cap)

    @field_validator("prompt")
    @classmethod
    def _prompt_bounded(cls, prompt: str | None) -> str | None:
        return None if prompt is None else _bounded_text(prompt, get_llm_limits().max_prompt_chars)

    @field_validator("messages")
    @classmethod
    def _few_enough_messages(cls, messages: list[ChatMessage] | None) -> list[ChatMessage] | None:
        if messages is not None:
            _capped(len(messages), get_llm_limits().max_messages, "messages")
        return messages

    @field_validator("stop")
    @classmethod
    def _stops_bounded(cls, stop: list[str]) -> list[str]:
        limits = get_llm_limits()
        return _bounded_texts(stop, limits.max_stop_strings, "stop strings", limits.max_stop_chars)

    @model_validator(mode="after")
    def _one_input(self) -> "GenerateRequest":
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must not be empty")
        return self


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class GenerateResult(BaseModel):
    text: str
    finish_reason: Literal["stop", "length"]
    usage: Usage
    model: str
    engine: Literal["vllm", "transformers"] = Field(description="The engine that generated it (LLM_ENGINE).")
    elapsed_ms: float
    batch_size: int = Field(
        description="transformers: how many jobs shared the model call that produced this one; "
        "vllm: the most requests running in the engine at once while this one ran."
    )


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1)
    time_limit_s: TimeLimit = None

    @field_validator("texts")
    @classmethod
    def _under_the_cap(cls, texts: list[str]) -> list[str]:
        limits = get_llm_limits()
        return _bounded_texts(texts, limits.max_embed_texts, "texts", limits.max_text_chars)

    @model_validator(mode="after")
    def _no_empty_text(self) -> "EmbedRequest":
        empty = [i for i, text in enumerate(self.texts) if not text.strip()]
        if empty:
            raise ValueError(f"texts must not be empty (index {', '.join(map(str, empty))})")
        return self


class GenerateSubmission(WebhookOptions, GenerateRequest):
    """``POST /v1/llm/generate``'s body: the request, and optionally a webhook."""


class EmbedSubmission(WebhookOptions, EmbedRequest):
    """``POST /v1/llm/embed``'s body: the request, and optionally a webhook."""


class EmbedResult(BaseModel):
    embeddings: list[list[float]] = Field(description="One L2-normalized vector per text, in order.")
    dim: int
    model: str


def _bounded_text(text: str, cap: int) -> str:
    if len(text) > cap:
        raise PydanticCustomError(
            "too_long", "{size} characters is over the limit of {cap}", {"size": len(text), "cap": cap}
        )
    return text


def _bounded_texts(texts: list[str], count_cap: int, unit: str, chars_cap: int) -> list[str]:
    _capped(len(texts), count_cap, unit)
    for text in texts:
        _bounded_text(text, chars_cap)
    return texts


def _capped(value: int, cap: int, unit: str = "") -> int:
    if value > cap:
        what = f"{value} {unit}".rstrip()
        raise PydanticCustomError("over_cap", "{what} is over the cap of {cap}", {"what": what, "cap": cap})
    return value


class LlmLimits(BaseSettings):
    """Request caps (``LLM_`` prefix), checked by the request models: the API refuses past
    them, and workers, which validate every job's params with the same models, again."""

    model_config = SettingsConfigDict(env_prefix="LLM_", env_file=".env", extra="ignore")

    max_new_tokens_cap: int = Field(1024, gt=0, description="Largest max_new_tokens a job may ask for.")
    max_embed_texts: int = Field(256, gt=0, description="Most texts in one embed job.")
    max_prompt_chars: int = Field(32_768, gt=0, description="Longest prompt, in characters.")
    max_messages: int = Field(64, gt=0, description="Most chat messages in one job.")
    max_message_chars: int = Field(32_768, gt=0, description="Longest chat message content, in characters.")
    max_text_chars: int = Field(8_192, gt=0, description="Longest text to embed, in characters.")
    max_stop_strings: int = Field(8, gt=0, description="Most stop strings in one job.")
    max_stop_chars: int = Field(64, gt=0, description="Longest stop string, in characters.")
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest JSON body of an LLM request.")


@lru_cache
def get_llm_limits() -> LlmLimits:
    return LlmLimits()
