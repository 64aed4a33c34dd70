"""``DOMAIN=ocr python -m workers [celery worker options]``: serve one domain's queue.

The node is named after the domain (``ocr@host``) and uses the domain's pool and concurrency
unless ``WORKER_POOL`` / ``WORKER_CONCURRENCY`` say otherwise; extra arguments go to Celery.
"""

import sys

from common.contracts.naming import queue_name


def main() -> None:
    from workers.app import worker  # builds the worker: exits with a message on bad configuration

    argv = [
        "worker",
        "--queues",
        queue_name(worker.settings.domain),
        "--hostname",
        worker.node,
        "--pool",
        worker.pool,
        "--concurrency",
        str(worker.concurrency),
        "--loglevel",
        worker.settings.log_level,
        "--without-mingle",  # workers of other domains have nothing to sync with this one
        *sys.argv[1:],
    ]
    worker.app.worker_main(argv)


if __name__ == "__main__":
    main()
