"""One sub-package per domain, each with a ``router.py`` exposing ``router`` and ``TASKS``.

``api.core.router`` walks this package; only enabled domains (and ``base``) are imported.
"""
