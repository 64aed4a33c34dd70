"""Results larger than RESULT_INLINE_MAX_BYTES live in the blob store, not in Redis, on both
backends (a directory; a real S3, SeaweedFS), and every way a client reads a finished job shows
them as it shows a small one: GET /v1/jobs/{id} (streamed: the API's memory does not grow with
the result), the ``done`` event, a webhook delivery, the SDK and CLI, OpenAI's /embeddings; the
listing leaves them out (``result_omitted``). The object goes when the record expires and when
the run's finish is dropped (canceled meanwhile); a store down at the finish fails the job with
a clear error, one down at a read answers 503. Real API, llm worker (the default embedder),
hooks worker and Redis."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import redis

from common import keys
from common.blobs import open_blob_store
from common.blobs.keys import RESULTS
from common.config import CoreSettings
from common.results import ResultRef
from devtools.localstack import free_port
from devtools.procinfo import PeakRss
from domainq_client import Client
from tests.builders import wait_for_job, wait_for_status, wait_until
from tests.client.conftest import cli_env, domainq_argv
from tests.contract.test_events import _read_events
from tests.openai.conftest import EMBEDDING_MODEL
from tests.webhook_receiver import Receiver, verify

MB = 1024 * 1024
THRESHOLD = 20_000
SMALL_RESULTS = {
    "RESULT_INLINE_MAX_BYTES": str(THRESHOLD),
    "LLM_MAX_EMBED_TEXTS": "800",
    "RECONCILE_INTERVAL_S": "0.5",
    "WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
}
TEXTS = [f"text number {i}" for i in range(40)]  # 40 vectors of 384 floats: ~300 KB of JSON


@pytest.fixture(params=["file", "s3"])
def stack(request, isolated_stack):
    if request.param == "s3":
        isolated_stack.env.update(request.getfixturevalue("s3_env"))
    isolated_stack.env.update(SMALL_RESULTS)
    return isolated_stack


@pytest.fixture
def file_stack(isolated_stack):
    isolated_stack.env.update(SMALL_RESULTS)
    return isolated_stack


def _llm(stack, tiny_llm_dir, env: dict[str, str] | None = None):
    engine = {"LLM_ENGINE": "transformers", "LLM_MODEL": str(tiny_llm_dir), **(env or {})}
    return stack.start_worker("llm", env=engine, wait=120)


def _store(stack, env: dict[str, str] | None = None):
    settings = {**stack.blob_env, **stack.env, **(env or {})}
    return open_blob_store(CoreSettings(**{k.lower(): v for k, v in settings.items()}))


def _embed(client: httpx.Client, texts: list[str], **extra) -> str:
    answer = client.post("/v1/llm/embed", json={"texts": texts, **extra})
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def _ref(r: redis.Redis, job_id: str) -> ResultRef:
    record = r.hgetall(keys.job(job_id))
    assert "result" not in record, "a stored result has no copy in the record"
    return ResultRef.model_validate_json(record["result_ref"])


def _without_webhook(job: dict) -> dict:
    return {k: v for k, v in job.items() if k != "webhook"}  # its delivery state moves on


def test_a_large_result_lives_in_the_store_and_reads_everywhere_as_a_small_one_would(stack, tiny_llm_dir):
    api = stack.start_api(domain="llm")
    _llm(stack, tiny_llm_dir)
    stack.start_worker("hooks", env={"WEBHOOK_POLL_INTERVAL_S": "0.05"})
    store = _store(stack)
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    user = httpx.post(f"{api}/v1/keys", json={"name": "results"}, headers=stack.auth_headers, timeout=30).json()
    auth = {"Authorization": f"Bearer {user['key']}"}
    with Receiver() as receiver, httpx.Client(base_url=api, timeout=90, headers=auth) as client:
        small = _embed(client, TEXTS[:1])
        big = _embed(client, TEXTS, webhook=receiver.url, webhook_events_filter=["completed"])
        events = _read_events(client, big)
        job = wait_for_job(client, big)  # the long-poll
        small_job = wait_for_job(client, small)
        plain = client.get(f"/v1/jobs/{big}")
        listing = client.get("/v1/jobs").json()["jobs"]
        delivery = receiver.wait_for_type("job.completed")[-1]

    # Kept in the store, in full; Redis holds a reference, and no key there comes near its size.
    ref = _ref(r, big)
    stored = store.get_sync(ref.key)
    assert ref.size == len(stored) > THRESHOLD and json.loads(stored) == job["result"]
    assert "result" in r.hgetall(keys.job(small)) and "result_ref" not in r.hgetall(keys.job(small))
    largest = max(r.memory_usage(name) or 0 for name in r.scan_iter())
    assert largest < len(stored) / 4, f"a Redis key of {largest} bytes beside a result of {len(stored)}"

    # GET answers the JSON a small result gives: the same fields, the vectors the embedder makes.
    assert job["status"] == "succeeded" and job["result_omitted"] is False
    assert plain.headers["content-type"] == "application/json"
    assert _without_webhook(plain.json()) == _without_webhook(job)
    assert set(job) == set(small_job) and set(job["result"]) == set(small_job["result"])
    vectors = job["result"]["embeddings"]
    assert len(vectors) == len(TEXTS) and {len(v) for v in vectors} == {job["result"]["dim"]}
    assert vectors[0] == pytest.approx(small_job["result"]["embeddings"][0], abs=1e-4)  # the same text

    # The done event carries the whole job, result and all.
    assert [e["event"] for e in events][-1] == "done"
    assert _without_webhook(events[-1]["data"]) == _without_webhook(job)
    # The listing leaves the stored result out, and says so; a small one is listed.
    listed = {j["id"]: j for j in listing}
    assert listed[big]["result"] is None and listed[big]["result_omitted"] is True
    assert listed[small]["result"] == small_job["result"] and listed[small]["result_omitted"] is False
    # The webhook delivery carries it, signed over the body as sent.
    assert verify(user["webhook_secret"], delivery.headers, delivery.body)
    assert delivery.event["data"]["result"] == job["result"] and delivery.event["data"]["result_omitted"] is False

    # The SDK and the CLI read it as any result.
    with Client(api, user["key"]) as sdk:
        assert sdk.jobs.get(big).result.embeddings == vectors
        assert list(sdk.jobs.get(big).events())[-1].job.result == job["result"]
        page = {view.id: view for view in sdk.jobs.list().jobs}
        assert page[big].result is None and page[big].result_omitted is True
    cli = subprocess.run(
        domainq_argv("jobs", "get", big), env=cli_env(api, user["key"]), capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["result"] == job["result"]

    # OpenAI's /embeddings: a new job of the same texts, its stored result reshaped as it streams.
    with openai.OpenAI(base_url=f"{api}/openai/v1", api_key=user["key"], max_retries=0, timeout=90) as oai:
        answer = oai.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS)  # base64, as the package asks
        floats = oai.embeddings.create(model=EMBEDDING_MODEL, input=TEXTS, encoding_format="float")
    assert [d.index for d in answer.data] == list(range(len(TEXTS))) and answer.model == EMBEDDING_MODEL
    for got, plain_got, expected in zip(answer.data, floats.data, vectors, strict=True):
        assert got.embedding == pytest.approx(expected, abs=1e-6)  # float32 on the wire
        assert plain_got.embedding == pytest.approx(expected, abs=1e-12)
    assert len(list(store.list_sync(RESULTS))) == 3  # this job's and the two OpenAI jobs'


def test_sixteen_reads_of_a_large_result_at_once_hold_chunks_not_results(file_stack, tiny_llm_dir):
    api = file_stack.start_api(domain="llm")
    _llm(file_stack, tiny_llm_dir)
    proc = next(p for p in file_stack.procs if p.name.startswith("api-"))
    with httpx.Client(base_url=api, timeout=120, headers=file_stack.auth_headers) as client:
        job_id = _embed(client, [f"a longer text to embed, number {i}" for i in range(800)])
        whole = wait_for_job(client, job_id, timeout=180)  # its long-poll warms the streamed path
        size = _ref(redis.Redis.from_url(file_stack.redis_url, decode_responses=True), job_id).size
        assert size > 5 * MB
        with PeakRss(proc.popen.pid) as rss, ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: client.get(f"/v1/jobs/{job_id}"), range(16)))
        idle, peak = rss.idle, rss.peak
    assert all(a.status_code == 200 and a.json() == whole for a in answers)
    # Each read holds less than a quarter of the result at the peak. Measured with half this
    # result (3.1 MB): loaded whole, sixteen reads took +52 MB, about a result each; streamed
    # (64 KiB chunks), +5 to +9 MB, whatever the result's size.
    assert peak - idle < 16 * size / 4, f"peak RSS +{(peak - idle) / MB:.1f} MB for 16 reads of {size / MB:.1f} MB"


def test_a_stored_result_goes_when_its_record_expires(isolated_stack, tiny_llm_dir):
    isolated_stack.env.update({**SMALL_RESULTS, "BLOB_SWEEP_INTERVAL_S": "0.5"})
    api = isolated_stack.start_api(domain="llm")
    _llm(isolated_stack, tiny_llm_dir, env={"JOB_TTL_S": "8"})  # the worker's: a record's life after its end
    store = _store(isolated_stack)
    r = redis.Redis.from_url(isolated_stack.redis_url, decode_responses=True)
    with httpx.Client(base_url=api, timeout=60, headers=isolated_stack.auth_headers) as client:
        job_id = _embed(client, TEXTS)
        assert wait_for_job(client, job_id)["status"] == "succeeded"
    key = _ref(r, job_id).key
    # Sweeps run every half second while the record lives: none takes the result it names.
    wait_until(lambda: 0 < r.pttl(keys.job(job_id)) < 1000, 30, "the record about to expire")
    assert store.head_sync(key) is not None
    wait_until(lambda: not r.exists(keys.job(job_id)), 10, "the record expired")
    wait_until(lambda: store.head_sync(key) is None, 10, "the stored result deleted after its record")
    assert list(store.list_sync(RESULTS)) == []


def test_a_run_whose_finish_is_dropped_deletes_the_result_it_stored(file_stack, tiny_llm_dir):
    # No sweep in this test's time (the default interval): only the run itself can delete it.
    api = file_stack.start_api(domain="llm")
    worker = _llm(file_stack, tiny_llm_dir)
    store = _store(file_stack)
    r = redis.Redis.from_url(file_stack.redis_url, decode_responses=True)
    long_texts = [f"{i} " + "a long text to embed takes a while " * 10 for i in range(100)]  # seconds
    with httpx.Client(base_url=api, timeout=60, headers=file_stack.auth_headers) as client:
        job_id = _embed(client, long_texts)
        wait_for_status(client, job_id, "running", timeout=60)
        canceled = client.delete(f"/v1/jobs/{job_id}")
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled", canceled.text
    # The run goes on to its end (the embedder does not stop midway), stores, finds its finish dropped.
    wait_until(lambda: "stored result of a dropped run deleted" in worker.log(), 120, "the dropped result deleted")
    assert list(store.list_sync(RESULTS)) == []
    record = r.hgetall(keys.job(job_id))
    assert record["status"] == "canceled" and "result_ref" not in record and "result" not in record


def test_a_store_down_at_the_finish_fails_the_job_clearly_and_one_down_at_a_read_answers_503(
    isolated_stack, s3_env, tiny_llm_dir
):
    isolated_stack.env.update({**SMALL_RESULTS, **s3_env, "RESULT_STORE_RETRY_S": "1"})
    down = {"S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    api = isolated_stack.start_api(domain="llm")
    cut_off_api = isolated_stack.start_api(domain="llm", env=down)
    worker = _llm(isolated_stack, tiny_llm_dir)
    with httpx.Client(base_url=api, timeout=90, headers=isolated_stack.auth_headers) as client:
        stored = _embed(client, TEXTS)
        assert wait_for_job(client, stored)["status"] == "succeeded"
        small = _embed(client, TEXTS[:1])
        assert wait_for_job(client, small)["status"] == "succeeded"
        # The worker now finds the store down: the large result fails its job, saying why.
        worker.stop()
        _llm(isolated_stack, tiny_llm_dir, env=down)
        failed = wait_for_job(client, _embed(client, TEXTS))
        assert failed["status"] == "failed" and failed["error"]["type"] == "ResultStoreUnavailable"
        assert "could not be stored" in failed["error"]["message"] and "unreachable" in failed["error"]["message"]
        assert wait_for_job(client, _embed(client, TEXTS[:1]))["status"] == "succeeded"  # a small one needs no store
    with httpx.Client(base_url=cut_off_api, timeout=90, headers=isolated_stack.auth_headers) as other:
        answer = other.get(f"/v1/jobs/{stored}")
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "store_unavailable"
        assert int(answer.headers["retry-after"]) >= 1
        assert other.get(f"/v1/jobs/{small}").status_code == 200  # inline results need no store
