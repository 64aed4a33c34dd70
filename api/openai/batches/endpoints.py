"""What a batch line's ``url`` does: the job its body makes, and the answer its job's result gives.

Each domain brings its own endpoints, in ``api/domains/<domain>/batch.py`` (found for the
domains this API serves, so an OCR API imports nothing of the llm domain). Each reuses its
interactive route's own pieces (the request models, the checks that answer 400, the answer's
shape), so a line is held to exactly what the route would take and its output line carries
exactly what the route would answer.
"""

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from api.core.auth import Principal
from api.core.config import ApiSettings
from api.core.errors import ApiError
from api.core.inputs import Input
from api.core.router import enabled_domains
from api.uploads.service import UploadService


class LineRefused(Exception):
    """A line's body the endpoint does not take: its message names the problem."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


@dataclass
class LineJob:
    """The job a line makes, and what its answer needs besides the job's result (``meta``)."""

    domain: str
    verb: str
    params: dict[str, Any]
    inputs: dict[str, Input] = field(default_factory=dict)
    pages: tuple[str, list[dict[str, Any]]] | None = None
    meta: dict[str, str] = field(default_factory=dict)


def parsed(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise LineRefused(f"body.{where}: {first['msg']}" if where else f"body: {first['msg']}", where) from None


def refused(exc: ApiError) -> LineRefused:
    return LineRefused(exc.message)


class Endpoint(ABC):
    url: str
    domain: str

    @abstractmethod
    def check(self, body: dict[str, Any]) -> None:
        """Refuse (``LineRefused``) a body the route would refuse, without side effects."""

    @abstractmethod
    async def job(self, body: dict[str, Any], principal: Principal) -> LineJob:
        """The line's job; ``LineRefused`` for what only submitting can find (a missing upload)."""

    @abstractmethod
    def answer(self, job_id: str, result: dict[str, Any], meta: dict[str, str]) -> dict[str, Any]:
        """The body the interactive route answers for a job that gave ``result``."""


def served(settings: ApiSettings, uploads: UploadService) -> dict[str, Endpoint]:
    """The endpoints of the domains this API serves, by url."""
    found: dict[str, Endpoint] = {}
    for domain in enabled_domains(settings.domain):
        try:
            module = importlib.import_module(f"api.domains.{domain}.batch")
        except ModuleNotFoundError as exc:
            if exc.name != f"api.domains.{domain}.batch":
                raise  # the module is there but broken: say so, not "no endpoints"
            continue  # a domain without batch endpoints
        found.update((endpoint.url, endpoint) for endpoint in module.endpoints(settings, uploads))
    return found


# What ``POST /batches`` takes as its ``endpoint``: every domain's (one not served here is a 400).
ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/ocr/recognize")
