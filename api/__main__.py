"""``python -m api``: check the configuration, then serve the API with uvicorn."""

import argparse
import sys

import uvicorn
from pydantic import ValidationError

from api.core.config import get_api_settings
from api.core.router import enabled_domains
from common.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    try:
        settings = get_api_settings()
        enabled_domains(settings.domain)
    except (ValueError, ValidationError) as exc:
        sys.exit(f"api: bad configuration: {exc}")
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,  # keep our formatter (text or JSON) for uvicorn's loggers too
    )


if __name__ == "__main__":
    main()
