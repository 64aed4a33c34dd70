"""Structured outputs: a constraint a generate job's text must meet, which both engines enforce
while decoding (token by token, so the text cannot leave the constraint's language).

- ``response_format``: OpenAI's shapes. ``{"type": "json_object"}``: some JSON object;
  ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``: JSON valid against
  the schema.
- ``choice``: exactly one of a list of strings.
- ``regex``: a full match of a regular expression (xgrammar's dialect, ECMAScript-like).

At most one per job. A schema is checked wherever the request is validated (the API at submit,
the worker again): its size and nesting are bounded (``LLM_MAX_SCHEMA_BYTES``,
``LLM_MAX_SCHEMA_DEPTH``) and it must be a valid JSON Schema (its draft's meta-schema). A
constraint these checks pass but the engine's grammar compiler refuses (a lookbehind in a
``pattern``, a ``$ref`` to nowhere) fails that job alone, with ``InvalidConstraint``.
"""

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The caps' defaults (``LlmLimits`` states them as settings).
MAX_SCHEMA_BYTES = 32_768
MAX_SCHEMA_DEPTH = 32
MAX_CHOICES = 64
MAX_CHOICE_CHARS = 256
MAX_REGEX_CHARS = 1024

ChoiceText = Annotated[str, Field(min_length=1)]


class JsonObjectFormat(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["json_object"]


class JsonSchemaSpec(BaseModel):
    # "schema" would shadow BaseModel.schema(): the field is ``schema_``, "schema" on the wire.
    model_config = ConfigDict(strict=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    name: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Names the schema (OpenAI's rule: 64 of a-z, 0-9, _ and -)."
    )
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema", description="A JSON Schema; the text is JSON valid against it.")
    strict: bool | None = Field(
        False,
        description="true: objects that list properties and say nothing of others get additionalProperties: "
        "false (a small model otherwise adds properties until max_new_tokens cuts the JSON).",
    )


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = Annotated[JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")]


@dataclass(frozen=True)
class SchemaLimits:
    max_bytes: int = MAX_SCHEMA_BYTES
    max_depth: int = MAX_SCHEMA_DEPTH


def nesting(value: Any) -> int:
    """How deep objects and arrays lie inside one another (a scalar: 0, ``{}``: 1)."""
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    return 0


def check_schema(schema: dict[str, Any], limits: SchemaLimits) -> None:
    """``ValueError`` naming the problem: too large, too deep, or not a valid JSON Schema."""
    size = len(json.dumps(schema, separators=(",", ":")).encode())
    if size > limits.max_bytes:
        raise ValueError(f"json_schema.schema is {size} bytes, over the limit of {limits.max_bytes}")
    depth = nesting(schema)
    if depth > limits.max_depth:
        raise ValueError(f"json_schema.schema nests {depth} levels deep, over the limit of {limits.max_depth}")
    # Imported here: only requests with a schema pay for it.
    from jsonschema import Draft202012Validator, exceptions, validators

    # The draft its "$schema" names; without one, the latest (2020-12), as OpenAI reads schemas.
    dialect = schema.get("$schema")
    try:
        checker = validators.validator_for(schema, default=None if dialect is not None else Draft202012Validator)
    except (TypeError, ValueError, AttributeError):  # a "$schema" that is no URI
        checker = None
    if checker is None:
        raise ValueError(f"json_schema.schema.$schema names no JSON Schema draft known here: {dialect!r}")
    try:
        checker.check_schema(schema)
    except exceptions.SchemaError as exc:
        where = exc.json_path.removeprefix("$")
        raise ValueError(f"json_schema.schema{where} is not valid JSON Schema: {exc.message}") from None


# Keywords whose value is one schema, a list of schemas, or a map of names to schemas.
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def closed(schema: Any) -> Any:
    """``schema`` with every object schema that lists ``properties`` and is silent about others
    closed (``additionalProperties: false``), as OpenAI's ``strict`` reads a schema.

    An object with no ``properties`` is left open: closing it would allow only ``{}``.
    """
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _ONE:
        if key in out:
            out[key] = closed(out[key])
    for key in _MANY:
        if isinstance(out.get(key), list):
            out[key] = [closed(s) for s in out[key]]
    for key in _MAP:
        if isinstance(out.get(key), dict):
            out[key] = {name: closed(s) for name, s in out[key].items()}
    if "properties" in out and "additionalProperties" not in out and "unevaluatedProperties" not in out:
        out["additionalProperties"] = False
    return out
