"""The baseline for queue overhead: the same embedding job through bare Celery.

Same broker settings as the platform (``common.celery_app``), plus a Redis result backend so
``apply_async(...).get()`` works; no job records, no HTTP. Started by the benchmark as
``celery -A scripts.benchmarks.bare_celery worker -P threads -c 1 -Q bare``.
"""

import os

from common.celery_app import make_celery
from common.config import CoreSettings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
app = make_celery(CoreSettings(), consume=("bare",))
app.conf.update(result_backend=CoreSettings().redis_url, task_ignore_result=False, task_routes=None)


@app.task(name="bare.embed")
def embed(text: str) -> dict:
    from workers.domains.llm import tasks

    return tasks.embedder.get().embed([text]).model_dump()
