"""The blob store's errors, and the one place obstore's errors become them."""

import contextlib
from collections.abc import Iterator

from obstore.exceptions import BaseError, GenericError, PermissionDeniedError, UnauthenticatedError


class BlobError(Exception):
    """Any blob store failure: catch it to handle them all."""


class BlobNotFound(BlobError):
    """No object under the key (an API answers 404)."""


class BlobTooLarge(BlobError):
    """A put passed its ``max_bytes``; nothing was stored (413)."""


class BlobStoreUnavailable(BlobError):
    """The store cannot be reached or refused us: network, timeout, 5xx, credentials, a full disk (503)."""


@contextlib.contextmanager
def translated(key: str) -> Iterator[None]:
    """Raise obstore's errors (and the local disk's) as ours, naming the key."""
    try:
        yield
    except FileNotFoundError as exc:  # obstore raises the builtin for a missing object
        raise BlobNotFound(key) from exc
    # Credentials are configuration the operator fixes: to a caller the store is unavailable.
    # GenericError is obstore's fallback, where network errors, timeouts and 5xx land after
    # their retries; an OSError is the local directory's (no space, no permission).
    except (GenericError, PermissionDeniedError, UnauthenticatedError, OSError) as exc:
        raise BlobStoreUnavailable(f"{key}: {_first_line(exc)}") from exc
    except BaseError as exc:
        raise BlobError(f"{key}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    # obstore appends a multi-line Rust debug dump to its messages.
    return str(exc).split("\n", 1)[0]
