"""The client's result models against the server's: the served OpenAPI document for the job
views, the contracts' JSON schemas for task results (results are free objects in the document).

A field added, renamed, retyped or made required on one side fails here, not in a user's code.
"""

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from api.openai.batches.lines import LineProblem
from api.openai.batches.store import BatchObject
from api.openai.files import FileObject
from common.contracts.llm import EmbedResult, ExtractResult, GenerateResult
from common.contracts.ocr import DocumentResult, RecognizeResult
from domainq_client import _models as client_models

# The client's name for each server model, where they differ.
CLIENT_NAMES = {"JobError": "JobErrorInfo", "RequestCounts": "BatchRequestCounts"}


def _schema_kind(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A JSON schema as a short type description: ``str``, ``list[float]``, ``Usage|None``..."""
    if "anyOf" in schema:
        kinds = [_schema_kind(s, defs) for s in schema["anyOf"]]
        return "|".join(sorted(kinds))
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        target = defs[name]
        if "enum" in target or "properties" not in target:
            return _schema_kind(target, defs)  # an enum of strings is a string
        return CLIENT_NAMES.get(name, name)
    if "enum" in schema or "const" in schema:
        return "str"
    kind = schema.get("type")
    if kind is None:
        return "Any"  # any JSON value (an extraction's data)
    if kind == "string":
        return "datetime" if schema.get("format") == "date-time" else "str"
    if kind == "array":
        return f"list[{_schema_kind(schema.get('items', {}), defs)}]"
    return {"integer": "int", "number": "float", "object": "dict", "boolean": "bool", "null": "None"}[kind]


def _python_kind(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return "|".join(sorted(_python_kind(h) for h in typing.get_args(hint)))
    if origin is list:
        return f"list[{_python_kind(typing.get_args(hint)[0])}]"
    if origin is dict or hint is dict:
        return "dict"
    if hint is type(None):
        return "None"
    if hint is datetime:
        return "datetime"
    return hint.__name__


def _compare(client_cls: type, schema: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    hints = typing.get_type_hints(client_cls)
    fields = {f.name: f for f in dataclasses.fields(client_cls)}
    served = schema["properties"]
    problems = [f"{name}: not served" for name in fields.keys() - served.keys()]
    problems += [f"{name}: served, not in the client" for name in served.keys() - fields.keys()]
    for name in fields.keys() & served.keys():
        theirs, ours = _schema_kind(served[name], defs), _python_kind(hints[name])
        if theirs != ours:
            problems.append(f"{name}: served as {theirs}, the client has {ours}")
        has_default = (
            fields[name].default is not dataclasses.MISSING or fields[name].default_factory is not dataclasses.MISSING
        )
        if not has_default and name not in schema.get("required", []):
            problems.append(f"{name}: optional on the server, required by the client")
    return problems


@pytest.fixture(scope="module")
def served(api_url) -> dict[str, Any]:
    return httpx.get(f"{api_url}/openapi.json", timeout=30).json()["components"]["schemas"]


@pytest.mark.parametrize("name", ["JobView", "JobError", "WebhookState", "JobPage"])
def test_job_models_match_the_served_openapi_document(served, name):
    client_cls = getattr(client_models, CLIENT_NAMES.get(name, name))
    assert _compare(client_cls, served[name], served) == []


def test_a_submission_answer_parses_as_a_job_view(served):
    accepted = served["JobAccepted"]
    view_fields = {f.name for f in dataclasses.fields(client_models.JobView)}
    assert set(accepted["required"]) - {"links"} <= view_fields
    required_by_client = {f.name for f in dataclasses.fields(client_models.JobView) if f.default is dataclasses.MISSING}
    assert required_by_client <= set(accepted["required"])


@pytest.mark.parametrize("server_model", [RecognizeResult, DocumentResult, GenerateResult, EmbedResult, ExtractResult])
def test_result_models_match_the_contracts(server_model: type[BaseModel]):
    schema = server_model.model_json_schema()
    defs = schema.get("$defs", {})
    problems = _compare(getattr(client_models, server_model.__name__), schema, defs)
    for name, nested in defs.items():
        if "properties" in nested:
            problems += [
                f"{name}.{p}" for p in _compare(getattr(client_models, CLIENT_NAMES.get(name, name)), nested, defs)
            ]
    assert problems == []


def test_every_task_the_api_serves_has_a_typed_result(client):
    served_tasks = {(d["name"], task) for d in client.get("/v1/domains").json()["domains"] for task in d["tasks"]}
    assert served_tasks <= set(client_models.RESULT_TYPES)


def test_openai_batch_and_file_objects_match_the_servers():
    schema = BatchObject.model_json_schema()
    defs = schema["$defs"]
    problems = _compare(client_models.Batch, schema, defs)
    problems += _compare(client_models.BatchRequestCounts, defs["RequestCounts"], defs)
    # The server keeps a bad line's error as a plain object; the client types it (BatchError).
    assert _compare(client_models.BatchErrors, defs["BatchErrors"], defs) == [
        "data: served as list[dict], the client has list[BatchError]"
    ]
    problems += _compare(client_models.FileObject, FileObject.model_json_schema(), {})
    assert problems == []


def test_a_bad_lines_error_as_the_server_writes_it_parses_whole():
    written = LineProblem("invalid_json", "the line is not valid JSON", "body").at(3).as_error()
    assert dataclasses.asdict(client_models.from_dict(client_models.BatchError, written)) == written
