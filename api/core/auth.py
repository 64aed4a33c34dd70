"""Who is calling: the Bearer API key, checked on every request before any route runs.

An ASGI middleware, so no route can forget it: every path but ``/healthz`` and ``/readyz``
(and ``/metrics`` and the docs, unless a setting puts them behind a key too) needs a valid
key, and the caller's ``KeyRecord`` is left in the request's state for the routes
(``PrincipalDep``, ``AdminDep``). Lookups are cached for a second per process, so a revoked
key stops working within that everywhere; a submit re-checks the key in the same script that
records the job.
"""

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.core.config import ApiSettings
from api.core.errors import ApiError, error_response, redis_unavailable
from common import apikeys
from common.apikeys import KeyRecord
from common.scripts import AsyncScripts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    """The caller: its key's id, role and limits, and the hash a submit re-checks atomically
    (``None`` with ``AUTH=off``: no key to check)."""

    id: str
    role: str
    rate_limit_per_minute: int | None
    max_jobs_in_flight: int | None
    key_hash: str | None
    weight: float = 1.0  # its share of a domain's workers beside other keys (common.fair)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, record: KeyRecord, key_hash: str) -> "Principal":
        limits = record.rate_limit_per_minute, record.max_jobs_in_flight
        return cls(record.id, record.role, *limits, key_hash, record.weight)


# With AUTH=off every caller is this one admin.
ANONYMOUS = Principal(apikeys.ANONYMOUS_ID, "admin", None, None, None)
KEY_CACHE_S = 1.0
_CACHE_MAX = 10_000


class KeyCache:
    """Key lookups by secret, remembered for ``KEY_CACHE_S``; misses are remembered too. At most
    ``_CACHE_MAX`` entries, the least recently used dropped one at a time: a flood of unknown
    keys pushes out only entries nobody used meanwhile."""

    def __init__(self, scripts: AsyncScripts, clock: Callable[[], float] = time.monotonic) -> None:
        self._scripts = scripts
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()

    async def lookup(self, secret: str) -> Principal | None:
        digest = apikeys.secret_hash(secret)  # the cache holds no secret
        now = self._clock()
        hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < KEY_CACHE_S:
            self._entries.move_to_end(digest)
            return hit[1]
        record = await self._scripts.run(apikeys.authenticate(secret))
        principal = None if record is None else Principal.of(record, digest)
        self._entries[digest] = (now, principal)
        self._entries.move_to_end(digest)
        while len(self._entries) > _CACHE_MAX:
            self._entries.popitem(last=False)
        return principal


def open_paths(settings: ApiSettings) -> tuple[set[str], tuple[str, ...]]:
    """Paths (exact, and prefixes) that need no key."""
    exact = {"/healthz", "/readyz"}
    prefixes: tuple[str, ...] = ()
    if not settings.metrics_require_key:
        exact.add("/metrics")
    if not settings.docs_require_key:
        exact |= {"/docs", "/openapi.json"}
        prefixes = ("/docs/",)
    return exact, prefixes


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


class Authentication:
    """ASGI middleware: the caller (a ``Principal``) into ``request.state.principal``, or 401."""

    def __init__(self, app: ASGIApp, settings: ApiSettings) -> None:
        self.app = app
        self.enabled = settings.auth
        self.exact, self.prefixes = open_paths(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        state = scope.setdefault("state", {})
        if not self.enabled:
            state["principal"] = ANONYMOUS
        elif path not in self.exact and not path.startswith(self.prefixes) and scope["method"] != "OPTIONS":
            try:
                state["principal"] = await self._principal(scope)
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message, headers=exc.headers)
                return await response(scope, receive, send)
            except redis.RedisError as exc:
                where = {"request_id": state.get("request_id", "-")}
                log.warning("redis error on %s %s (key check): %s: %s", scope["method"], path, type(exc).__name__, exc,
                            extra=where)  # fmt: skip
                return await redis_unavailable(exc)(scope, receive, send)
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope) -> Principal:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _unauthorized("send an API key: Authorization: Bearer <key>")
        record = await scope["app"].state.keys.lookup(secret.strip())
        if record is None:
            raise _unauthorized("unknown or revoked API key")
        return record  # type: ignore[no-any-return]


async def get_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # an open path: no route there asks for one
        raise _unauthorized("send an API key: Authorization: Bearer <key>")
    return principal  # type: ignore[no-any-return]


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "this needs an admin key")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
