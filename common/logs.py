"""Logging set-up: plain text for people, one JSON object a line for log shippers."""

import json
import logging
import sys

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra=`` fields (job_id, domain, ...) become keys."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
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
