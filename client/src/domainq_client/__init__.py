"""Python client for the domainq job API, and the ``domainq`` command (``domainq_client.cli``).

    from domainq_client import Client

    with Client() as client:  # DOMAINQ_URL, DOMAINQ_API_KEY
        job = client.ocr.recognize("page.png")
        print(job.wait(timeout=60).text)

Exceptions, and when to catch them::

    DomainqError                  anything this client raises on purpose
    ├── APIError                  the API answered an error: .status, .code, .message, .details
    │   ├── AuthenticationError   401/403: missing, unknown or revoked key, or not an admin
    │   └── NotSupportedError     the server lacks the route (an older server)
    ├── UnreachableError          no HTTP answer at all (refused, DNS, timed out)
    ├── JobError                  the job ended without a result: .job is its last view
    │   ├── JobFailedError        it failed: .job.error says why
    │   └── JobCanceledError      it was canceled or expired
    ├── WaitTimeout               wait(timeout) ran out; the job goes on (also a TimeoutError)
    └── WebhookVerificationError  a webhook delivery this secret did not sign, or a stale one
                                  (domainq_client.webhooks.verify)

``429`` and ``503`` answers are retried (``RetryPolicy``: ``Retry-After`` when given, else
exponential backoff) before any ``APIError`` reaches the caller.
"""

from domainq_client._async import AsyncClient, AsyncJob
from domainq_client._common import DocumentOptions, RetryPolicy, SubmitOptions
from domainq_client._errors import (
    APIError,
    AuthenticationError,
    DomainqError,
    JobCanceledError,
    JobError,
    JobFailedError,
    NotSupportedError,
    UnreachableError,
    WaitTimeout,
)
from domainq_client._models import (
    Batch,
    BatchError,
    BatchErrors,
    BatchPage,
    BatchRequestCounts,
    DocumentResult,
    EmbedResult,
    Event,
    ExtractModels,
    ExtractResult,
    FileObject,
    GenerateResult,
    JobErrorInfo,
    JobPage,
    JobView,
    OcrLine,
    PageResult,
    RecognizeResult,
    Usage,
)
from domainq_client._sync import Client, Job
from domainq_client.webhooks import WebhookEvent, WebhookVerificationError

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncJob",
    "AuthenticationError",
    "Batch",
    "BatchError",
    "BatchErrors",
    "BatchPage",
    "BatchRequestCounts",
    "Client",
    "DocumentOptions",
    "DocumentResult",
    "DomainqError",
    "EmbedResult",
    "Event",
    "ExtractModels",
    "ExtractResult",
    "FileObject",
    "GenerateResult",
    "Job",
    "JobCanceledError",
    "JobError",
    "JobErrorInfo",
    "JobFailedError",
    "JobPage",
    "JobView",
    "NotSupportedError",
    "OcrLine",
    "PageResult",
    "RecognizeResult",
    "RetryPolicy",
    "SubmitOptions",
    "UnreachableError",
    "Usage",
    "WaitTimeout",
    "WebhookEvent",
    "WebhookVerificationError",
]
