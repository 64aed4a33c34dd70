"""LLM domain contract: ``llm.generate`` (text from a prompt or chat) and ``llm.embed``.

The request models state the rules that hold whatever the settings; ``bounded(limits)`` adds
the caps that settings give (``LlmLimits``, ``LLM_*``) as field constraints. The API validates
with those models, so its OpenAPI document states every cap, and the workers validate each job's
params with the same models under their own limits.
"""

import functools
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.contracts import structured
from common.contracts.bounds import tightened
from common.contracts.jobs import TimeLimit, json_integer
from common.contracts.structured import ChoiceText, ResponseFormat, SchemaLimits

DOMAIN = "llm"
GENERATE = "generate"
EMBED = "embed"
EXTRACT = "extract"  # an extraction's own run: JSON from its OCR pages' text (two stages)
MAX_INSTRUCTIONS_CHARS = 4000

# Strict: a JSON value of another type is refused, never coerced (true is no integer, "5" no number).
_STRICT = ConfigDict(strict=True)
StopString = Annotated[str, Field(min_length=1)]
# Not blank: a character that is whitespace neither to Python (``str.isspace``, which counts the
# separators \x1c-\x1f and \x85) nor to ECMAScript (``\s``), spelt out so that the schema's
# readers (a generated client, a fuzzer) and the server's ``re`` refuse the same texts.
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EmbedText = Annotated[str, Field(pattern=NOT_BLANK)]


class ChatMessage(BaseModel):
    model_config = _STRICT

    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


def _both_given(a: str, b: str) -> dict[str, Any]:
    """Both fields present and not null (a null one counts as left out)."""
    return {"required": [a, b], "properties": {a: {"not": {"type": "null"}}, b: {"not": {"type": "null"}}}}


_CONSTRAINTS = ("response_format", "choice", "regex")
# ``GenerateRequest._one_input`` as the OpenAPI document states it: exactly one input, and at
# most one structured-output constraint.
_EXACTLY_ONE_INPUT: dict[str, Any] = {
    "oneOf": [
        {"required": ["prompt"], "properties": {"prompt": {"type": "string"}}},
        {"required": ["messages"], "properties": {"messages": {"type": "array"}}},
    ],
    "not": {"anyOf": [_both_given(a, b) for i, a in enumerate(_CONSTRAINTS) for b in _CONSTRAINTS[i + 1 :]]},
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
    # Structured outputs (common/contracts/structured.py): at most one of the three.
    response_format: ResponseFormat | None = Field(
        None,
        description="json_object: the text is a JSON object; json_schema: JSON valid against the schema "
        f"(at most LLM_MAX_SCHEMA_BYTES, default {structured.MAX_SCHEMA_BYTES}, and LLM_MAX_SCHEMA_DEPTH "
        f"levels, default {structured.MAX_SCHEMA_DEPTH}).",
    )
    choice: list[ChoiceText] | None = Field(None, min_length=1, description="The text is exactly one of these.")
    regex: str | None = Field(
        None, min_length=1, description="The text matches this regular expression (xgrammar's, ECMAScript-like)."
    )

    # The schema caps of the limits this model was bounded by (``bounded``); these are the defaults.
    schema_limits: ClassVar[SchemaLimits] = SchemaLimits()

    _integers = field_validator("max_new_tokens", "seed", mode="before")(json_integer)

    @field_validator("response_format")
    @classmethod
    def _schema_checked(cls, value: ResponseFormat | None) -> ResponseFormat | None:
        if isinstance(value, structured.JsonSchemaFormat):
            spec = value.json_schema
            structured.check_schema(spec.schema_, cls.schema_limits)
            if spec.strict:
                spec.schema_ = structured.closed(spec.schema_)
        return value

    @model_validator(mode="after")
    def _one_input(self) -> "GenerateRequest":
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        given = [name for name in _CONSTRAINTS if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of 'response_format', 'choice' or 'regex', not {' and '.join(given)}")
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


class ExtractRequest(BaseModel):
    """What an extraction's llm stage needs: the schema its JSON follows, and how to read the
    text (``instructions``); the document and its pages are the job's OCR stage."""

    model_config = ConfigDict(strict=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    schema_: dict[str, Any] = Field(alias="schema", description="A JSON Schema: the result's data is valid against it.")
    instructions: str | None = Field(
        None, min_length=1, max_length=MAX_INSTRUCTIONS_CHARS, description="What to take from the document, in words."
    )
    max_new_tokens: int = Field(512, ge=1, strict=False, description="The most tokens the JSON may take.")

    _integers = field_validator("max_new_tokens", mode="before")(json_integer)


class ExtractModels(BaseModel):
    ocr: str
    llm: str


class ExtractResult(BaseModel):
    data: Any = Field(description="The JSON the model gave, valid against the schema (when finish_reason is stop).")
    text: str = Field(description="The document's text it was read from (pages joined by form feeds).")
    pages: int
    pages_failed: int
    models: ExtractModels
    finish_reason: Literal["stop", "length"]
    usage: Usage
    elapsed_ms: float


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
    max_schema_bytes: int = Field(
        structured.MAX_SCHEMA_BYTES, gt=0, description="Largest response_format JSON schema, in bytes (compact JSON)."
    )
    max_schema_depth: int = Field(
        structured.MAX_SCHEMA_DEPTH, gt=0, description="Deepest nesting of objects and arrays in a JSON schema."
    )
    max_choices: int = Field(structured.MAX_CHOICES, gt=0, description="Most strings in a job's 'choice'.")
    max_choice_chars: int = Field(structured.MAX_CHOICE_CHARS, gt=0, description="Longest 'choice' string.")
    max_regex_chars: int = Field(structured.MAX_REGEX_CHARS, gt=0, description="Longest 'regex', in characters.")


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
    choices = list[Annotated[ChoiceText, Field(max_length=limits.max_choice_chars)]] | None
    cap = limits.max_new_tokens_cap
    default_tokens = min(GenerateRequest.model_fields["max_new_tokens"].default, cap)  # a cap may be below it
    generate = create_model(
        "GenerateRequest",
        __base__=GenerateRequest,
        prompt=tightened(GenerateRequest, "prompt", max_length=limits.max_prompt_chars),
        messages=tightened(GenerateRequest, "messages", list[message] | None, max_length=limits.max_messages),
        max_new_tokens=tightened(GenerateRequest, "max_new_tokens", default=default_tokens, le=cap),
        stop=tightened(GenerateRequest, "stop", stop, max_length=limits.max_stop_strings),
        choice=tightened(GenerateRequest, "choice", choices, max_length=limits.max_choices),
        regex=tightened(GenerateRequest, "regex", max_length=limits.max_regex_chars),
    )
    generate.schema_limits = SchemaLimits(limits.max_schema_bytes, limits.max_schema_depth)
    texts = list[Annotated[EmbedText, Field(max_length=limits.max_text_chars)]]
    embed = create_model(
        "EmbedRequest",
        __base__=EmbedRequest,
        texts=tightened(EmbedRequest, "texts", texts, max_length=limits.max_embed_texts),
    )
    return LlmRequests(generate, embed)
