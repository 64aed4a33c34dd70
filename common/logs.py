"""Logging set-up: plain text for people, one JSON object a line for log shippers."""

import json
import logging
import sys
from typing import Any

# uvicorn adds a copy of some messages with terminal colour codes: noise in a log file.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra=`` fields (job_id, domain, ...) become keys."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            # An access line as fields a log search can filter on, not only as text.
            data.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger message key=value ...`` with the ``extra=`` fields appended."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # the traceback, if any, follows
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        return super().formatMessage(record) + "".join(f" {k}={v}" for k, v in extra.items())


def configure_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Model libraries reset the root logger's level as they load (paddle sets WARNING); our own
    # loggers keep theirs, so job lines logged meanwhile still reach the handler.
    for name in ("api", "workers", "common"):
        logging.getLogger(name).setLevel(level.upper())
    # Celery's "received" and "succeeded" lines carry the task's arguments, a job's params (its
    # prompt, its texts) at INFO: never logged. The runner logs each job's own lines instead.
    for name in ("celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    logging.captureWarnings(True)  # warnings too go through the formatter (one JSON object a line)
