"""The structured-output contract alone: schema checks, strict closing, one constraint per job."""

import pytest
from pydantic import ValidationError

from common.contracts.llm import LlmLimits, bounded
from common.contracts.structured import closed, nesting


def _schema_format(schema, strict=False):
    return {"type": "json_schema", "json_schema": {"name": "s", "schema": schema, "strict": strict}}


def test_strict_closes_every_object_that_lists_properties_and_leaves_the_rest():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}},
            "free": {"type": "object"},  # no properties: closing it would allow only {}
            "open": {"type": "object", "properties": {}, "additionalProperties": True},  # said so: kept
            "list": {"type": "array", "items": {"properties": {"c": {"type": "integer"}}}},
            "either": {"anyOf": [{"properties": {"d": {}}}, {"type": "null"}]},
        },
        "$defs": {"t": {"type": "object", "properties": {"e": {}}}},
    }
    out = closed(schema)
    assert out["additionalProperties"] is False
    props = out["properties"]
    assert props["a"]["additionalProperties"] is False
    assert "additionalProperties" not in props["free"]
    assert props["open"]["additionalProperties"] is True
    assert props["list"]["items"]["additionalProperties"] is False
    assert props["either"]["anyOf"][0]["additionalProperties"] is False and props["either"]["anyOf"][1] == {
        "type": "null"
    }
    assert out["$defs"]["t"]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the caller's schema is not changed


def test_nesting_counts_objects_and_arrays_inside_one_another():
    assert (nesting(1), nesting({}), nesting({"a": [1]}), nesting({"a": {"b": [[]]}})) == (0, 1, 2, 4)


def test_a_strict_request_carries_the_closed_schema_and_a_loose_one_its_own():
    generate = bounded(LlmLimits()).generate
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    strict = generate.model_validate({"prompt": "x", "response_format": _schema_format(schema, strict=True)})
    loose = generate.model_validate({"prompt": "x", "response_format": _schema_format(schema)})
    assert strict.model_dump(mode="json")["response_format"]["json_schema"]["schema"] == closed(schema)
    assert loose.model_dump(mode="json")["response_format"]["json_schema"]["schema"] == schema
    # The params the API stores validate again on the worker to the same request.
    params = strict.model_dump(mode="json")
    assert generate.model_validate(params).model_dump(mode="json") == params


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"response_format": _schema_format({"type": "strin"})}, "json_schema.schema.type is not valid JSON Schema"),
        ({"response_format": _schema_format({"$schema": 5})}, "$schema names no JSON Schema draft known here: 5"),
        (
            {"response_format": _schema_format({"$schema": "http://x/y"})},
            "no JSON Schema draft known here: 'http://x/y'",
        ),
        (
            {"response_format": _schema_format({"properties": {"a": {"minLength": -1}}})},
            "schema.properties.a.minLength",
        ),
        ({"response_format": _schema_format({"enum": ["x" * 200]})}, "is 213 bytes, over the limit of 200"),
        (
            {"response_format": _schema_format({"a": {"b": {"c": {"d": {}}}}})},
            "nests 5 levels deep, over the limit of 4",
        ),
        (
            {"response_format": {"type": "json_object"}, "regex": "a+"},
            "at most one of 'response_format', 'choice' or 'regex'",
        ),
        ({"choice": ["a"], "regex": "a"}, "not choice and regex"),
        ({"choice": ["a"] * 4}, "at most 3 items"),
        ({"choice": ["abcdef"]}, "at most 5 characters"),
        ({"regex": "a" * 11}, "at most 10 characters"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "s"}}}, "Field required"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "no spaces", "schema": {}}}}, "pattern"),
    ],
)
def test_bad_constraints_are_refused_naming_the_problem(fields, said):
    limits = LlmLimits(max_schema_bytes=200, max_schema_depth=4, max_choices=3, max_choice_chars=5, max_regex_chars=10)
    with pytest.raises(ValidationError) as refused:
        bounded(limits).generate.model_validate({"prompt": "x", **fields})
    assert said in str(refused.value)
