"""LLM domain contract: ``llm.generate`` (text from a prompt or chat) and ``llm.embed``.

The request models state the rules that hold whatever the settings; ``bounded(limits)`` adds
the caps that settings give (``LlmLimits``, ``LLM_*``) as field constraints. The API validates
with those models, so its OpenAPI document states every cap, and the workers validate each job's
params with the same models under their own limits.
"""

import functools
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.contracts.bounds import tightened
from common.contracts.jobs import TimeLimit, json_integer

DOMAIN = "llm"
GENERATE = "generate"
EMBED = "embed"

# Strict: a JSON value of another type is refused, never coerced (true is no integer, "5" no number).
_STRICT = ConfigDict(strict=True)
StopString = Annotated[str, Field(min_length=1)]
# Not blank. Matched with Python's ``re`` (``EmbedRequest``'s regex engine), whose ``\s`` is
# ``str.isspace``, as Python clients and fuzzers read the schema's pattern.
EmbedText = Annotated[str, Field(pattern=r"\S")]


class ChatMessage(BaseModel):
    model_config = _STRICT

    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


# ``GenerateRequest._one_input`` as the OpenAPI document states it.
_EXACTLY_ONE_INPUT: dict[str, Any] = {
    "oneOf": [
        {"required": ["prompt"], "properties": {"prompt": {"type": "string"}}},
        {"required": ["messages"], "properties": {"messages": {"type": "array"}}},
    ]
}


class GenerateRequest(BaseModel):
    """Exactly one of ``prompt`` (raw text) or ``messages`` (the model's chat template applied)."""

    model_config = ConfigDict(strict=True, json_schema_extra=_EXACTLY_ONE_INPUT)

    prompt: str | None = Field(None, min_length=1)
    messages: list[ChatMessage] | None = Field(None, min_length=1)
    max_new_tokens: int = Field(128, ge=1, strict=False)
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="0 means greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[StopString] = Field(default_factory=list, description="Stop before any of these strings.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, strict=False, description="Makes sampling repeatable.")
    time_limit_s: TimeLimit = None

    _integers = field_validator("max_new_tokens", "seed", mode="before")(json_integer)

    @model_validator(mode="after")
    def _one_input(self) -> "GenerateRequest":
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
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
    model_config = ConfigDict(strict=True, regex_engine="python-re")

    texts: list[EmbedText] = Field(min_length=1)
    time_limit_s: TimeLimit = None


class EmbedResult(BaseModel):
    embeddings: list[list[float]] = Field(description="One L2-normalized vector per text, in order.")
    dim: int
    model: str


class LlmLimits(BaseSettings):
    """Request caps (``LLM_`` prefix). The API reads them with its settings, the llm workers as
    part of theirs (``LlmSettings`` extends this class); both apply them through ``bounded``."""

    model_config = SettingsConfigDict(env_prefix="LLM_", env_file=".env", extra="ignore", frozen=True)

    max_new_tokens_cap: int = Field(1024, gt=0, description="Largest max_new_tokens a job may ask for.")
    max_embed_texts: int = Field(256, gt=0, description="Most texts in one embed job.")
    max_prompt_chars: int = Field(32_768, gt=0, description="Longest prompt, in characters.")
    max_messages: int = Field(64, gt=0, description="Most chat messages in one job.")
    max_message_chars: int = Field(32_768, gt=0, description="Longest chat message content, in characters.")
    max_text_chars: int = Field(8_192, gt=0, description="Longest text to embed, in characters.")
    max_stop_strings: int = Field(8, gt=0, description="Most stop strings in one job.")
    max_stop_chars: int = Field(64, gt=0, description="Longest stop string, in characters.")
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest JSON body of an LLM request.")


@dataclass(frozen=True)
class LlmRequests:
    """The request models under one set of limits."""

    generate: type[GenerateRequest]
    embed: type[EmbedRequest]


@functools.cache
def bounded(limits: LlmLimits) -> LlmRequests:
    """The request models with ``limits``' caps as field constraints (``maxLength``, ``maximum``...)."""
    message = create_model(
        "ChatMessage",
        __base__=ChatMessage,
        content=tightened(ChatMessage, "content", max_length=limits.max_message_chars),
    )
    stop = list[Annotated[StopString, Field(max_length=limits.max_stop_chars)]]
    cap = limits.max_new_tokens_cap
    default_tokens = min(GenerateRequest.model_fields["max_new_tokens"].default, cap)  # a cap may be below it
    generate = create_model(
        "GenerateRequest",
        __base__=GenerateRequest,
        prompt=tightened(GenerateRequest, "prompt", max_length=limits.max_prompt_chars),
        messages=tightened(GenerateRequest, "messages", list[message] | None, max_length=limits.max_messages),
        max_new_tokens=tightened(GenerateRequest, "max_new_tokens", default=default_tokens, le=cap),
        stop=tightened(GenerateRequest, "stop", stop, max_length=limits.max_stop_strings),
    )
    texts = list[Annotated[EmbedText, Field(max_length=limits.max_text_chars)]]
    embed = create_model(
        "EmbedRequest",
        __base__=EmbedRequest,
        texts=tightened(EmbedRequest, "texts", texts, max_length=limits.max_embed_texts),
    )
    return LlmRequests(generate, embed)
