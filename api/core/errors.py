"""One error envelope for every failure: ``{"error": {"code", "message", "details"?}}``.

Codes are stable strings clients can branch on; messages are for people. Nothing escapes as
plain text: Redis errors answer ``503 redis_unavailable`` (with ``Retry-After``) on every route
that reaches Redis (``/readyz`` says so in its own answer, ``/metrics`` serves what it has without
Redis), and anything unexpected ``500 internal``, logged with the request id and never shown.
"""

import logging
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)

REDIS_RETRY_AFTER_S = 5


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An error the API answers with; raise it from routes and services."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, details=details)
    return JSONResponse({"error": body.model_dump(exclude_none=True)}, status_code=status, headers=headers)


def redis_out_of_memory(exc: BaseException) -> bool:
    """Whether Redis refused a write for memory (``maxmemory`` reached, nothing to evict)."""
    # redis-py turns Redis's "-OOM ..." reply into OutOfMemoryError and drops the prefix; a Lua
    # script's write refused for memory comes back as a ResponseError naming maxmemory.
    return isinstance(exc, redis.OutOfMemoryError) or (isinstance(exc, redis.ResponseError) and "maxmemory" in str(exc))


def redis_unavailable(exc: Exception) -> JSONResponse:
    """Redis is away (or full): the same answer wherever it is noticed."""
    if redis_out_of_memory(exc):
        message = "Redis (broker and job store) is out of memory; nothing was recorded"
    else:
        message = f"Redis (broker and job store) unreachable: {type(exc).__name__}"
    return error_response(503, "redis_unavailable", message, headers={"Retry-After": str(REDIS_RETRY_AFTER_S)})


# For ``responses=`` on routes, so the OpenAPI schema shows the envelope.
def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorEnvelope} for s in statuses}


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
_UNPARSABLE = "There was an error parsing the body"  # FastAPI's 400 for an undecodable body


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]


def _validation_code(error: dict[str, Any]) -> str:
    """One code per fault, whichever route: a body that is no JSON, a bad header, or else."""
    if error.get("type") == "json_invalid":
        return "invalid_json"
    return "invalid_header" if tuple(error.get("loc", ()))[:1] == ("header",) else "invalid_request"


def _allowed_methods(request: Request) -> set[str]:
    """Every method the request's path takes: its routes are one per method."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL:  # the path's, not the method's
            methods |= getattr(route, "methods", None) or set()
    return methods


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        code = _validation_code(exc.errors()[0]) if exc.errors() else "invalid_request"
        return error_response(422, code, f"{where}: {first['msg']}", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSABLE:
            # A body FastAPI could not even decode (not UTF-8): the same answer as malformed JSON.
            return error_response(422, "invalid_json", "body: the request body is not valid JSON (UTF-8)")
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        headers = dict(exc.headers or {})
        allowed = _allowed_methods(request) if exc.status_code == 405 else set()
        if allowed:  # Starlette's Allow names only the methods of the first route it tried
            headers["Allow"] = ", ".join(sorted(allowed))
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(redis.RedisError)
    async def _redis(request: Request, exc: redis.RedisError) -> JSONResponse:
        where = {"request_id": getattr(request.state, "request_id", "-")}
        log.warning(
            "redis error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc, extra=where
        )
        return redis_unavailable(exc)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        log.exception("unexpected error", extra={"request_id": request_id})
        message = f"internal error; quote request id {request_id} when reporting it"
        return error_response(500, "internal", message, headers={"X-Request-ID": request_id})
