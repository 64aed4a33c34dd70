"""Two domains' workers on one Redis: each job reaches only its domain, each process only its libraries."""

from celery import Celery

from devtools.procinfo import group_pids, loaded_libraries
from tests.builders import submit_image, text_image, wait_for_job


def _libraries(proc) -> set[str]:
    return set().union(*(loaded_libraries(pid) for pid in group_pids(proc.popen.pid)))


def test_each_job_reaches_only_its_own_domain(client, redis_stack, ocr_worker, llm_worker):
    ocr_ids = [submit_image(client, text_image([f"Page {i}"])).json()["id"] for i in range(3)]
    llm_ids = [
        client.post("/v1/llm/generate", json={"prompt": f"p{i}", "max_new_tokens": 2}).json()["id"] for i in range(3)
    ]
    embed_id = client.post("/v1/llm/embed", json={"texts": ["one"]}).json()["id"]
    for job_id in ocr_ids:
        assert wait_for_job(client, job_id)["worker"] == ocr_worker.node
    for job_id in [*llm_ids, embed_id]:
        assert wait_for_job(client, job_id)["worker"] == llm_worker.node

    inspect = Celery(broker=redis_stack.redis_url).control.inspect(timeout=5)
    registered = inspect.registered()
    assert set(registered[ocr_worker.node]) == {"ocr.recognize", "ocr.page", "ocr.document"}
    assert set(registered[llm_worker.node]) == {"llm.generate", "llm.embed", "llm.extract"}
    queues = inspect.active_queues()
    assert [q["name"] for q in queues[llm_worker.node]] == ["llm"]
    assert [q["name"] for q in queues[ocr_worker.node]] == ["ocr"]


def test_an_llm_worker_never_loads_paddle_and_an_ocr_worker_never_loads_torch(client, ocr_worker, llm_worker):
    # Run a job on each so the models (and their native libraries) are loaded.
    assert wait_for_job(client, submit_image(client, text_image(["Loaded"])).json()["id"])["status"] == "succeeded"
    job = client.post("/v1/llm/generate", json={"prompt": "loaded", "max_new_tokens": 2}).json()
    assert wait_for_job(client, job["id"])["status"] == "succeeded"
    assert _libraries(ocr_worker) == {"paddle"}
    assert _libraries(llm_worker) == {"torch"}
