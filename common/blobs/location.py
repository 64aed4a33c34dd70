"""Where ``BLOB_STORE_URL`` points: parsed and checked without touching the store."""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

URL_FORMS = "file:///absolute/path or s3://bucket[/prefix]"


@dataclass(frozen=True)
class StoreLocation:
    """A local directory (``scheme`` "file", ``path``) or an S3 bucket and key prefix."""

    scheme: str
    path: str = ""  # file: the directory
    bucket: str = ""  # s3
    prefix: str = ""  # s3: keys live under it ("" for the whole bucket)


def parse_store_url(url: str) -> StoreLocation:
    """The location a blob store URL names; ValueError naming the accepted forms otherwise."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return StoreLocation("file", path=unquote(parts.path))
    if parts.scheme == "s3" and parts.netloc and not (parts.query or parts.fragment):
        return StoreLocation("s3", bucket=parts.netloc, prefix=unquote(parts.path).strip("/"))
    raise ValueError(f"BLOB_STORE_URL must be {URL_FORMS}, not {url!r}")


def default_store_url() -> str:
    """A directory in the user's data dir ($XDG_DATA_HOME, else ~/.local/share): one host's default."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or "")
    if not data_home.is_absolute():  # unset, or relative: the XDG spec says to ignore it then
        data_home = Path.home() / ".local" / "share"
    return (data_home / "domainq" / "blobs").as_uri()
