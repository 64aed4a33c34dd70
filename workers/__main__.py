"""``DOMAIN=ocr python -m workers [celery worker options]``: serve one domain's queue.

The node is named after the domain (``ocr@host``) and uses the domain's pool and concurrency
unless ``WORKER_POOL`` / ``WORKER_CONCURRENCY`` say otherwise; extra arguments go to Celery.
"""

import sys

from common.contracts.naming import queue_name


def main() -> None:
    from workers.app import app  # builds the app: exits with a message on bad configuration

    settings = app.worker_settings
    argv = [
        "worker",
        "--queues",
        queue_name(settings.domain),
        "--hostname",
        settings.worker_name or f"{settings.domain}@%h",
        "--pool",
        app.worker_pool,
        "--concurrency",
        str(app.worker_concurrency),
        "--loglevel",
        settings.log_level,
        "--without-mingle",  # workers of other domains have nothing to sync with this one
        *sys.argv[1:],
    ]
    app.worker_main(argv)


if __name__ == "__main__":
    main()
