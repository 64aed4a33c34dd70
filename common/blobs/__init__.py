"""Big bytes by key: job inputs, documents, batch files and large results, out of Redis.

One interface for the API (async methods) and the workers (their ``_sync`` twins), over the
store ``BLOB_STORE_URL`` names, as ``REDIS_URL`` names Redis: ``file:///absolute/path`` (a
directory every process of one host mounts) or ``s3://bucket[/prefix]`` (AWS, or a self-hosted
S3 at ``S3_ENDPOINT_URL``). obstore does the I/O: streamed puts (multipart on S3), ranged and
streamed reads, presigned URLs. Keys: ``common.blobs.keys``.

Errors, each saying when to catch it::

    BlobError                   any failure of the store
    ├── BlobNotFound            no object under the key: 404
    ├── BlobTooLarge            a put passed its max_bytes; nothing was stored: 413
    └── BlobStoreUnavailable    network, timeout, 5xx, credentials, a full disk: 503 store_unavailable

A put that ends early (too large, its source failing, its task cancelled) stores nothing: an S3
multipart upload is aborted. What a put's own source raises comes out as it was.
"""

from common.blobs.backends import get_blob_store, open_blob_store
from common.blobs.errors import BlobError, BlobNotFound, BlobStoreUnavailable, BlobTooLarge
from common.blobs.store import BlobInfo, BlobStore, BlobStream

__all__ = [
    "BlobError",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreUnavailable",
    "BlobStream",
    "BlobTooLarge",
    "get_blob_store",
    "open_blob_store",
]
