"""The blob store against both backends: a local directory and a real S3 (SeaweedFS)."""

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from common.blobs import (
    BlobNotFound,
    BlobStore,
    BlobStoreUnavailable,
    BlobTooLarge,
    get_blob_store,
    open_blob_store,
)
from common.blobs.keys import input_key, job_prefix, result_key, upload_key
from common.blobs.store import PART_CONCURRENCY
from common.blobs.upload import PART_BYTES
from common.config import CoreSettings
from devtools.localstack import S3Service, free_port
from tests.builders import wait_until

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def s3_settings(s3: S3Service, prefix: str, **changes) -> CoreSettings:
    fields = {
        "blob_store_url": f"s3://{s3.bucket}/{prefix}",
        "s3_endpoint_url": s3.endpoint,
        "aws_access_key_id": s3.access_key_id,
        "aws_secret_access_key": s3.secret_access_key,
        **changes,
    }
    return CoreSettings(_env_file=None, **fields)


@pytest.fixture
def prefix() -> str:
    """A key prefix of the test's own in the suite's shared bucket."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path, prefix) -> BlobStore:
    if request.param == "file":
        return open_blob_store(CoreSettings(_env_file=None, blob_store_url=(tmp_path / "blobs").as_uri()))
    return open_blob_store(s3_settings(request.getfixturevalue("s3_service"), prefix))


@pytest.fixture
def s3_store(s3_service, prefix) -> BlobStore:
    return open_blob_store(s3_settings(s3_service, prefix))


def pending_multipart_uploads(s3: S3Service, prefix: str) -> list[str]:
    """Keys under ``prefix`` with a multipart upload begun and neither completed nor aborted
    (SeaweedFS keeps one folder per upload in the bucket's .uploads, the key among its attributes).

    A folder can show for a moment without its attributes (an upload of another test, or of a
    process of the session's stack, being begun or aborted as we list): listed again until every
    folder names its key."""

    def listed() -> tuple[list[dict]] | None:  # (entries,): truthy even when there are none
        answer = httpx.get(f"{s3.filer}/buckets/{s3.bucket}/.uploads/", headers={"Accept": "application/json"})
        answer.raise_for_status()
        entries = answer.json().get("Entries") or []
        return None if any(not (entry.get("Extended") or {}).get("key") for entry in entries) else (entries,)

    (entries,) = wait_until(listed, 10, "an upload folder in .uploads that names no key")
    keys = [base64.b64decode(entry["Extended"]["key"]).decode() for entry in entries]
    return [key for key in keys if key.startswith(prefix + "/")]


def on_s3(request) -> S3Service | None:
    """The S3 a test's ``store`` is in; None for the local directory."""
    return request.getfixturevalue("s3_service") if request.node.callspec.params["store"] == "s3" else None


def nothing_half_written(request, store: BlobStore) -> bool:
    """No multipart upload left pending on S3; no file in the local directory but the objects listed
    (a put writes a staging file first)."""
    if s3 := on_s3(request):
        return not pending_multipart_uploads(s3, request.getfixturevalue("prefix"))
    root = request.getfixturevalue("tmp_path") / "blobs"
    on_disk = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    return on_disk == {info.key for info in store.list_sync()}


async def chunks(count: int, size: int = MiB, digest=None):
    """``count`` fresh random chunks, made one at a time (the whole never exists here)."""
    for _ in range(count):
        chunk = os.urandom(size)
        if digest is not None:
            digest.update(chunk)
        yield chunk
        await asyncio.sleep(0)


def status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def peak_growth(run) -> tuple[int, object]:
    """How far the process's peak RSS rose above its RSS while ``run()`` ran, and what it returned."""
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := RSS now
    before = status_bytes("VmRSS")
    answer = run()
    return status_bytes("VmHWM") - before, answer


def test_a_put_is_read_back_whole_by_get_in_both_async_and_sync_calls(store):
    assert asyncio.run(store.put("jobs/j1/input", b"image bytes")) == len(b"image bytes")
    assert asyncio.run(store.get("jobs/j1/input")) == b"image bytes"
    assert store.put_sync("jobs/j1/other", [b"two ", b"parts"]) == 9
    assert store.get_sync("jobs/j1/other") == b"two parts"
    with pytest.raises(BlobNotFound):
        asyncio.run(store.get("jobs/j1/missing"))
    with pytest.raises(BlobNotFound):
        store.get_sync("jobs/j1/missing")


def test_a_48_mib_put_from_an_async_generator_streams_through_bounded_memory(store):
    size, digest = 48 * MiB, hashlib.sha256()
    asyncio.run(store.put("warm-up", chunks(8)))  # the runtime's first buffers are not the put's
    # At most PART_CONCURRENCY parts in flight and one filling, plus chunks on their way.
    bound = (PART_CONCURRENCY + 1) * PART_BYTES + 4 * MiB
    assert bound < size / 2

    growth, stored = peak_growth(lambda: asyncio.run(store.put("big", chunks(size // MiB, digest=digest))))
    assert stored == size
    assert growth < bound, f"a {size} B put raised peak RSS by {growth} B"

    async def read_back():
        read, parts = hashlib.sha256(), 0
        async for chunk in await store.stream("big"):
            read.update(chunk)
            parts += 1
        return read.hexdigest(), parts

    growth, (read_digest, parts) = peak_growth(lambda: asyncio.run(read_back()))
    assert read_digest == digest.hexdigest() and parts > 1
    assert growth < bound, f"streaming {size} B raised peak RSS by {growth} B"


def test_a_put_past_max_bytes_is_refused_and_stores_nothing(store, request):
    with pytest.raises(BlobTooLarge):  # streamed: refused at the part that crosses the limit
        asyncio.run(store.put("jobs/j2/input", chunks(16), max_bytes=12 * MiB))
    with pytest.raises(BlobTooLarge):  # bytes: refused before any request
        asyncio.run(store.put("jobs/j2/small", b"x" * 101, max_bytes=100))
    with pytest.raises(BlobTooLarge):
        store.put_sync("jobs/j2/sync", (b"x" * MiB for _ in range(3)), max_bytes=2 * MiB)
    assert asyncio.run(store.put("jobs/j2/exact", b"x" * 100, max_bytes=100)) == 100

    assert [info.key for info in store.list_sync("jobs/j2")] == ["jobs/j2/exact"]
    assert nothing_half_written(request, store)


def test_a_cancelled_put_is_aborted_and_stores_nothing(store, request):
    async def scenario():
        stalled = asyncio.Event()

        async def source():
            async for chunk in chunks(3 * PART_BYTES // MiB):  # three parts sent, then a client gone quiet
                yield chunk
            stalled.set()
            await asyncio.Event().wait()

        put = asyncio.ensure_future(store.put("uploads/u1", source()))
        await asyncio.wait_for(stalled.wait(), 30)
        if s3 := on_s3(request):  # an upload really under way, to be aborted
            under_way = lambda: pending_multipart_uploads(s3, request.getfixturevalue("prefix"))  # noqa: E731
            await asyncio.to_thread(wait_until, under_way, 10, "a multipart upload")
        put.cancel()
        with pytest.raises(asyncio.CancelledError):
            await put

    asyncio.run(scenario())
    assert store.head_sync("uploads/u1") is None
    assert list(store.list_sync("uploads")) == []
    assert nothing_half_written(request, store)


def test_what_a_puts_source_raises_comes_out_as_it_was_and_nothing_is_stored(store, request):
    async def failing():
        yield b"x" * MiB
        raise OSError("the client's disk")

    with pytest.raises(OSError, match="the client's disk") as caught:
        asyncio.run(store.put("jobs/j3/input", failing()))
    assert not isinstance(caught.value, BlobStoreUnavailable)
    assert store.head_sync("jobs/j3/input") is None
    assert nothing_half_written(request, store)


def test_stream_opens_before_the_first_chunk_and_yields_chunks_of_about_the_size_asked(store):
    data = os.urandom(3 * MiB + 5)
    store.put_sync("results/r.json", data)

    async def read():
        opened = await store.stream("results/r.json", chunk_size=MiB)
        return opened.info.size, [chunk async for chunk in opened]

    size, parts = asyncio.run(read())
    assert size == len(data) and b"".join(parts) == data
    assert len(parts) >= 2 and all(len(part) <= 2 * MiB for part in parts)
    assert b"".join(store.stream_sync("results/r.json", chunk_size=MiB)) == data
    with pytest.raises(BlobNotFound):  # at opening: an API can still answer 404
        asyncio.run(store.stream("results/missing.json"))
    with pytest.raises(BlobNotFound):
        store.stream_sync("results/missing.json")


def test_get_range_reads_a_header_and_stops_at_the_end(store):
    store.put_sync("doc", b"%PDF-1.7 and the rest")
    assert asyncio.run(store.get_range("doc", 0, 8)) == b"%PDF-1.7"
    assert store.get_range_sync("doc", 17, 10) == b"rest"
    assert store.get_range_sync("doc", 21, 4) == b""  # at the end
    assert asyncio.run(store.get_range("doc", 500, 4)) == b""  # past it
    assert store.get_range_sync("doc", 3, 0) == b""
    with pytest.raises(BlobNotFound):
        asyncio.run(store.get_range("missing", 0, 8))
    with pytest.raises(ValueError):
        store.get_range_sync("doc", -1, 8)


def test_head_gives_size_and_time_or_none(store):
    before = datetime.now(UTC) - timedelta(seconds=2)  # S3 times are whole seconds
    store.put_sync("jobs/j4/input", b"12345")
    info = asyncio.run(store.head("jobs/j4/input"))
    assert info is not None and (info.key, info.size) == ("jobs/j4/input", 5)
    assert before <= info.last_modified <= datetime.now(UTC) + timedelta(seconds=1)
    assert store.head_sync("jobs/j4/input") == info
    assert asyncio.run(store.head("jobs/j4/missing")) is None
    assert store.head_sync("jobs/j4/missing") is None


def test_list_gives_what_lies_under_a_prefix_in_whole_segments(store):
    for key, data in [("jobs/a/x", b"1"), ("jobs/a/y", b"22"), ("jobs/ab/z", b"333"), ("results/a.json", b"4")]:
        store.put_sync(key, data)

    async def listed():
        return [info async for info in store.list("jobs/a")]

    found = asyncio.run(listed())
    assert sorted((info.key, info.size) for info in found) == [("jobs/a/x", 1), ("jobs/a/y", 2)]
    assert all(isinstance(info.last_modified, datetime) for info in found)
    assert sorted(info.key for info in store.list_sync("jobs")) == ["jobs/a/x", "jobs/a/y", "jobs/ab/z"]
    assert len(list(store.list_sync())) == 4
    assert list(store.list_sync("nothing/here")) == []


def test_delete_takes_keys_some_of_which_may_be_gone(store):
    for key in ("jobs/j5/a", "jobs/j5/b", "jobs/j5/c"):
        store.put_sync(key, b"x")
    asyncio.run(store.delete(["jobs/j5/a", "jobs/j5/missing", "jobs/j5/b"]))
    assert [info.key for info in store.list_sync("jobs/j5")] == ["jobs/j5/c"]
    store.delete_sync("jobs/j5/c")
    store.delete_sync(["jobs/j5/c", "jobs/j5/never"])
    asyncio.run(store.delete("jobs/j5/never"))
    asyncio.run(store.delete([]))
    assert list(store.list_sync("jobs/j5")) == []


def test_the_local_directory_drops_a_jobs_folder_with_its_last_blob(tmp_path):
    store = open_blob_store(CoreSettings(_env_file=None, blob_store_url=(tmp_path / "blobs").as_uri()))
    store.put_sync(input_key("j6", "input"), b"x")
    assert (tmp_path / "blobs" / "jobs" / "j6" / "input").read_bytes() == b"x"
    store.delete_sync(input_key("j6", "input"))
    assert not (tmp_path / "blobs" / "jobs").exists()


def test_copy_duplicates_an_object(store):
    store.put_sync("uploads/u2", b"batch file")
    asyncio.run(store.copy("uploads/u2", "jobs/j7/input"))
    store.copy_sync("uploads/u2", "jobs/j8/input")
    assert store.get_sync("jobs/j7/input") == store.get_sync("jobs/j8/input") == b"batch file"
    assert store.get_sync("uploads/u2") == b"batch file"
    with pytest.raises(BlobNotFound):
        asyncio.run(store.copy("uploads/missing", "jobs/j9/input"))


def test_a_presigned_put_takes_a_plain_http_upload_and_a_presigned_get_serves_it(s3_store):
    assert s3_store.can_presign
    url = asyncio.run(s3_store.presign("PUT", "uploads/u3", 60))
    assert url and httpx.put(url, content=b"from a client").status_code == 200
    assert s3_store.get_sync("uploads/u3") == b"from a client"
    assert httpx.put(url.split("?")[0], content=b"unsigned").status_code == 403  # the signature is what lets it in
    assert s3_store.get_sync("uploads/u3") == b"from a client"

    s3_store.put_sync("results/r2.json", b"{}", content_type="application/json")
    served = httpx.get(s3_store.presign_sync("GET", "results/r2.json", 60))
    assert (served.status_code, served.content) == (200, b"{}")
    assert served.headers["content-type"] == "application/json"


def test_presigned_urls_name_the_public_endpoint_and_work_through_it(s3_service, prefix):
    # Clients reach the store by another name than the services (a proxy, a published port):
    # the URL is signed for that name, and a PUT sent there is valid.
    public = s3_service.endpoint.replace("127.0.0.1", "localhost")
    store = open_blob_store(s3_settings(s3_service, prefix, s3_public_endpoint_url=public))
    url = store.presign_sync("PUT", "uploads/u5", 60)
    assert url is not None and url.startswith(f"{public}/{s3_service.bucket}/{prefix}/uploads/u5?")
    assert httpx.put(url, content=b"through the public name").status_code == 200
    assert store.get_sync("uploads/u5") == b"through the public name"
    elsewhere = url.replace("localhost", "127.0.0.1")  # signed for the public host: no other
    assert httpx.put(elsewhere, content=b"x").status_code == 403


def test_the_local_directory_cannot_presign(tmp_path):
    store = open_blob_store(CoreSettings(_env_file=None, blob_store_url=(tmp_path / "blobs").as_uri()))
    assert not store.can_presign
    assert asyncio.run(store.presign("PUT", "uploads/u4", 60)) is None
    assert store.presign_sync("GET", "uploads/u4", 60) is None


def test_an_s3_url_prefix_keeps_the_stores_keys_under_it(s3_service, prefix):
    inner = open_blob_store(s3_settings(s3_service, f"{prefix}/inner"))
    outer = open_blob_store(s3_settings(s3_service, prefix))
    inner.put_sync("jobs/j10/input", b"x")
    assert [info.key for info in inner.list_sync()] == ["jobs/j10/input"]
    assert [info.key for info in outer.list_sync()] == ["inner/jobs/j10/input"]


def test_a_store_that_is_down_answers_unavailable_within_seconds(s3_service, prefix):
    down = open_blob_store(s3_settings(s3_service, prefix, s3_endpoint_url=f"http://127.0.0.1:{free_port()}"))
    for call in (lambda: down.head_sync("x"), lambda: asyncio.run(down.get("x")), lambda: down.put_sync("x", b"y")):
        started = time.monotonic()
        with pytest.raises(BlobStoreUnavailable):
            call()
        assert time.monotonic() - started < 5


def test_wrong_credentials_answer_unavailable(s3_service, prefix):
    wrong = open_blob_store(s3_settings(s3_service, prefix, aws_secret_access_key="not-the-secret"))
    with pytest.raises(BlobStoreUnavailable, match=r"(?i)denied|signature|forbidden"):
        wrong.put_sync("x", b"y")


@pytest.mark.parametrize(
    "url", ["gs://bucket/x", "file://relative/path", "file:relative", "s3:///no-bucket", "/abs/path"]
)
def test_a_blob_store_url_of_another_form_stops_the_settings_naming_the_forms(url):
    with pytest.raises(
        ValidationError, match=r"BLOB_STORE_URL must be file:///absolute/path or s3://bucket\[/prefix\]"
    ):
        CoreSettings(_env_file=None, blob_store_url=url)


def test_the_default_store_is_a_directory_in_the_users_data_dir_made_on_first_use(tmp_path, monkeypatch):
    monkeypatch.delenv("BLOB_STORE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert CoreSettings(_env_file=None).blob_store_url == (tmp_path / "data/domainq/blobs").as_uri()
    get_blob_store.cache_clear()
    try:
        assert get_blob_store() is get_blob_store()  # one per process
        assert (tmp_path / "data/domainq/blobs").is_dir()
    finally:
        get_blob_store.cache_clear()
    monkeypatch.setenv("XDG_DATA_HOME", "relative")  # not absolute: ignored, as the XDG spec says
    assert CoreSettings(_env_file=None).blob_store_url == (Path.home() / ".local/share/domainq/blobs").as_uri()


def test_key_helpers_lay_keys_out_and_refuse_what_is_not_one_segment():
    assert input_key("0af3", "page-0001.png") == "jobs/0af3/page-0001.png"
    assert job_prefix("0af3") == "jobs/0af3"
    assert result_key("0af3", 2) == "results/0af3/2.json"
    assert upload_key("up_1") == "uploads/up_1"
    for bad in ("", "..", ".hidden", "a/b", "a b", "x" * 201):
        with pytest.raises(ValueError):
            input_key("0af3", bad)


EXITS_RIGHT_AFTER_AN_ASYNC_CALL = """
import asyncio, sys
from common.blobs import open_blob_store
from common.config import CoreSettings
store = open_blob_store(CoreSettings(_env_file=None, blob_store_url=sys.argv[1]))
store.put_sync("k", b"x" * 1000)

async def main():
    for _ in range(20):
        await store.get("k")

asyncio.run(main())
"""


def test_a_process_that_exits_right_after_async_calls_exits_cleanly(tmp_path):
    # Without the pause at exit about a third of these died of SIGABRT (rc -6) here.
    url = (tmp_path / "blobs").as_uri()
    argv = [sys.executable, "-c", EXITS_RIGHT_AFTER_AN_ASYNC_CALL, url]
    runs = [subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True) for _ in range(12)]
    errors = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0] * 12, errors
