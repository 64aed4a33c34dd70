"""Opening the store ``BLOB_STORE_URL`` names: a local directory, or an S3 bucket."""

from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from obstore.store import LocalStore, S3Store

from common import config  # the module: it imports this package to check BLOB_STORE_URL
from common.blobs.location import parse_store_url
from common.blobs.store import BlobStore

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

# A store that is down fails a call within seconds: a few quick retries inside this window
# (obstore's default retries for up to three minutes).
RETRIES = 3
RETRY_WINDOW = timedelta(seconds=10)


def open_blob_store(settings: "config.CoreSettings") -> BlobStore:
    """The store the settings name (its local directory is created if missing)."""
    location = parse_store_url(settings.blob_store_url)
    if location.scheme == "file":
        # automatic_cleanup: deleting a job's last blob removes its directory too.
        return BlobStore(LocalStore(location.path, mkdir=True, automatic_cleanup=True))
    client: ClientConfig = {
        "connect_timeout": timedelta(seconds=settings.blob_connect_timeout_s),
        "timeout": timedelta(seconds=settings.blob_request_timeout_s),
        "allow_http": settings.s3_endpoint_url.startswith("http://"),
    }
    retry: RetryConfig = {
        "max_retries": RETRIES,
        "retry_timeout": RETRY_WINDOW,
        "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2), "base": 2},
    }
    store = S3Store(
        location.bucket,
        prefix=location.prefix or None,
        config=s3_config(settings),
        client_options=client,
        retry_config=retry,
    )
    signer = None
    if settings.s3_public_endpoint_url:
        # Signing is local (no request): a store for the public endpoint only signs URLs.
        public = s3_config(settings)
        public["endpoint"] = settings.s3_public_endpoint_url
        public["virtual_hosted_style_request"] = False
        signer = S3Store(location.bucket, prefix=location.prefix or None, config=public)
    return BlobStore(store, signer)


def s3_config(settings: "config.CoreSettings") -> "S3Config":
    """The S3 settings that are set; obstore finds the rest itself (AWS_* variables, instance or pod roles)."""
    config: S3Config = {}
    if settings.s3_endpoint_url:
        config["endpoint"] = settings.s3_endpoint_url
        # Self-hosted S3 (SeaweedFS, MinIO) serves buckets as paths, not as host names.
        config["virtual_hosted_style_request"] = False
    if settings.aws_access_key_id:
        config["access_key_id"] = settings.aws_access_key_id
    if secret := settings.aws_secret_access_key.get_secret_value():
        config["secret_access_key"] = secret
    if token := settings.aws_session_token.get_secret_value():
        config["session_token"] = token
    if settings.aws_region:
        config["region"] = settings.aws_region
    return config


@lru_cache
def get_blob_store() -> BlobStore:
    """The process's store, for the API and workers alike; tests call ``get_blob_store.cache_clear()``."""
    return open_blob_store(config.CoreSettings())
