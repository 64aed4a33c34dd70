"""The OpenAPI document as clients meet the API: the error envelope for every 4xx/5xx (not
FastAPI's ``HTTPValidationError``), the Bearer key, the answers every route can give, and
optional parameters as they are sent: given or left out, never null."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.core.errors import ErrorEnvelope

_ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
_COMMON = {
    "401": "Missing, unknown or revoked API key (`unauthorized`).",
    "500": "Unexpected error (`internal`); quote the X-Request-ID when reporting it.",
    "503": "Redis unreachable or full (`redis_unavailable`), with Retry-After.",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ENVELOPE}}}


def _never_null(parameter: dict[str, Any]) -> None:
    """An optional query or header parameter, which FastAPI types as ``X | null``, as just ``X``:
    a client sends it or leaves it out (a header of ``null`` would be the text "null")."""
    schema = parameter.get("schema", {})
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update(branches[0])


def install_openapi(app: FastAPI, open_paths: set[str]) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas["ErrorEnvelope"].pop("$defs", {}))
        doc["components"]["securitySchemes"] = {"apiKey": {"type": "http", "scheme": "bearer"}}
        for path, operations in doc["paths"].items():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    _never_null(parameter)
                responses = operation.setdefault("responses", {})
                for status, answer in responses.items():
                    if status.startswith(("4", "5")):
                        answer["content"] = {"application/json": {"schema": _ENVELOPE}}
                for status, description in _COMMON.items():
                    if status == "401" and path in open_paths:
                        continue
                    responses.setdefault(status, _error(description))
                if path not in open_paths:
                    operation["security"] = [{"apiKey": []}]
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
