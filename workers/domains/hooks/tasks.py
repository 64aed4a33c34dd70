"""The hooks worker's tasks: ``hooks.deliver`` (one attempt at one delivery) and the pump that
feeds it. Not ``@job_task``s: deliveries are not jobs, so the worker's extension points serve
here (``register`` adds the tasks, ``on_ready`` starts the pump; see ``workers.domains``)."""

from celery import Celery

from common.jobstore import JobStore
from workers.core.config import WorkerSettings
from workers.domains.hooks.config import get_hooks_settings
from workers.domains.hooks.delivery import Deliverer
from workers.domains.hooks.pump import DELIVER, Pump


def check_config() -> None:
    """Fail at worker start, not at the first delivery, on bad WEBHOOK_ settings."""
    get_hooks_settings()


def register(app: Celery, settings: WorkerSettings) -> None:
    deliverer = Deliverer(JobStore.from_url(settings.redis_url), settings, get_hooks_settings())

    def deliver(webhook_id: str, token: str) -> None:
        deliverer.deliver(webhook_id, token)

    # Acked on receipt: a worker dying mid-send leaves the delivery claimed, and the pump hands
    # it out again once the claim runs out (a broker redelivery would only add a duplicate).
    app.task(name=DELIVER, acks_late=False)(deliver)


def on_ready(app: Celery, settings: WorkerSettings) -> None:
    Pump(JobStore.from_url(settings.redis_url), app, get_hooks_settings()).start()
