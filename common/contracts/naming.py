"""Task and queue names: a task is ``<domain>.<verb>`` and lives on the queue ``<domain>``."""

import re

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def task_name(domain: str, verb: str) -> str:
    """The Celery task name for ``verb`` of ``domain``, e.g. ``ocr.recognize``."""
    for part in (domain, verb):
        if not _NAME.match(part):
            raise ValueError(f"invalid domain or verb name: {part!r}")
    return f"{domain}.{verb}"


def queue_name(domain: str) -> str:
    """The Celery queue a domain's workers consume: the domain's own name."""
    return domain


def domain_of(name: str) -> str:
    """The domain a task name belongs to (``ocr.recognize`` -> ``ocr``)."""
    return name.split(".", 1)[0]


def queue_for(task: str) -> str:
    """The queue a task's messages go to: the one way to pick it (Celery's router and the API)."""
    return queue_name(domain_of(task))
