"""Fixtures that start real parts: a private Redis server, workers and API processes."""

import itertools
import os
import socket

import httpx
import pytest
import redis

from common.localstack import LocalStack

# Keep test processes off any hub and quiet about it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def redis_stack(tmp_path_factory) -> LocalStack:
    """A real redis-server of the suite's own, on a free port (db 0 for the shared stack)."""
    with LocalStack(tmp_path_factory.mktemp("stack")) as stack:
        stack.start_redis(persist=False)
        yield stack


@pytest.fixture
def isolated_stack(redis_stack, tmp_path) -> LocalStack:
    """A stack of its own (a fresh Redis database) for tests that kill or hold workers."""
    base = redis_stack.redis_url.rsplit("/", 1)[0]
    with LocalStack(tmp_path, redis_url=f"{base}/{next(_db_numbers)}") as stack:
        yield stack


@pytest.fixture(scope="session")
def ocr_worker(redis_stack):
    return redis_stack.start_worker("ocr", name=f"ocr@{socket.gethostname()}")


@pytest.fixture(scope="session")
def api_url(redis_stack) -> str:
    # Small caps so the limit tests need no large files; the defaults have their own test.
    return redis_stack.start_api(env={"MAX_UPLOAD_BYTES": "1000000", "OCR_MAX_PIXELS": "4000000"})


@pytest.fixture
def client(api_url) -> httpx.Client:
    with httpx.Client(base_url=api_url, timeout=90) as http:
        yield http


@pytest.fixture(scope="session")
def redis_client(redis_stack) -> redis.Redis:
    return redis.Redis.from_url(redis_stack.redis_url, decode_responses=True)


@pytest.fixture(scope="session")
def job_store(redis_stack):
    from common.jobstore import JobStore

    return JobStore.from_url(redis_stack.redis_url, ttl_s=600)
