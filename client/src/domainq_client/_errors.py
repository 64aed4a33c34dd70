"""The client's exceptions; the tree is drawn in the package docstring."""

from typing import Any


class DomainqError(Exception):
    """Anything this client raises on purpose."""


class APIError(DomainqError):
    """The API answered with an error: ``status`` (HTTP) and ``code`` (a stable string)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, request_id: str | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details
        self.request_id = request_id


class AuthenticationError(APIError):
    """401 or 403: the key is missing, unknown, revoked, or not allowed this."""


class NotSupportedError(APIError):
    """The server has no such route (an older server): e.g. job listing or live events."""


class UnreachableError(DomainqError):
    """No answer: the connection failed or timed out before any HTTP status came back."""


class JobError(DomainqError):
    """A job ended without a result; ``job`` is its last view."""

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job


class JobFailedError(JobError):
    """The job failed: ``job.error`` says why (its exception type and message)."""


class JobCanceledError(JobError):
    """The job was canceled (or expired) before it finished."""


class WaitTimeout(DomainqError, TimeoutError):
    """``wait(timeout)`` ran out while the job was still queued or running (the job goes on)."""

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job
