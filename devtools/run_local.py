"""Run the whole platform on this machine until Ctrl-C: Redis, the API on :8000, one worker
per domain whose extra is installed, and the hooks worker (webhook deliveries). ``scripts/dev.sh`` installs everything, then runs this
(``python -m devtools.run_local`` from the repository root)."""

import argparse
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path

from common import apikeys
from devtools.localstack import LocalStack
from workers.core.bootstrap import installed_domains, installed_service_domains, is_installed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workdir", default=".run", help="logs and embedded Redis data")
    parser.add_argument("--flower-port", type=int, default=5555, help="Flower's port; 0: no Flower")
    parser.add_argument("--metrics-port", type=int, default=9808, help="first worker's /metrics port; 0: none")
    args = parser.parse_args()

    stack = LocalStack(Path(args.workdir))
    key_file = Path(args.workdir) / "admin-key"
    stack.admin_key = admin_key(key_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # A shell that starts us in the background makes us ignore SIGINT: take Ctrl-C back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        redis_url = stack.use_or_start_redis(os.environ.get("REDIS_URL"))
        if stack.redis_embedded:
            whose = f"embedded, data in {args.workdir}/redis"
        elif os.environ.get("REDIS_URL"):
            whose = "REDIS_URL"
        else:  # someone else's: say so, since this stack's keys and jobs stay in it afterwards
            whose = "already running on :6379, not started here: this stack's keys and jobs stay in it"
        print(f"redis     {redis_url}  ({whose})", flush=True)
        domains = installed_domains()
        for i, domain in enumerate(domains + installed_service_domains()):
            port = args.metrics_port + i if args.metrics_port else 0
            proc = stack.start_worker(domain, name=f"{domain}@{socket.gethostname()}", wait=120, metrics_port=port)
            metrics = f"metrics http://127.0.0.1:{port}/metrics, " if port else ""
            print(f"worker    {proc.node} ({metrics}log {proc.log_path})", flush=True)
        base = stack.start_api(port=args.port, domain=",".join(domains) or "all")
        print(
            f"api       {base}  (docs {base}/docs, metrics {base}/metrics, log {args.workdir}/api-{args.port}.log)",
            flush=True,
        )
        if args.flower_port and is_installed("flower"):
            # Flower can revoke tasks and shows their arguments: never without a password.
            auth = os.environ.get("FLOWER_BASIC_AUTH") or f"admin:{secrets.token_urlsafe(12)}"
            flower = stack.start_flower(args.flower_port, basic_auth=auth)
            user, password = auth.split(",")[0].split(":", 1)
            print(f"flower    {flower}  (user {user}, password {password})", flush=True)
        elif args.flower_port:
            print("flower    not installed: pip install '.[flower]'", flush=True)
        where = "ADMIN_API_KEY" if os.environ.get("ADMIN_API_KEY") else key_file
        auth_header = f'-H "Authorization: Bearer {stack.admin_key}"'
        print(
            f"\nAdmin API key (from {where}): {stack.admin_key}\n"
            "Submit an OCR job and wait for its result:\n"
            f"  curl -s {auth_header} -F file=@your-image.png {base}/v1/ocr/recognize\n"
            f"  curl -s {auth_header} '{base}/v1/jobs/<id>?wait=30'\n"
            "Or with the domainq command (scripts/install.sh put it in .venv/bin):\n"
            f"  export DOMAINQ_URL={base} DOMAINQ_API_KEY={stack.admin_key}\n"
            "  .venv/bin/domainq ocr your-scans/ --out results.jsonl\n"
            "Be told when a job finishes: a webhook, signed with the key's secret (README, Webhooks):\n"
            f"  curl -s {auth_header} {base}/v1/keys/me/webhook-secret\n"
            "Make a key for an application (role user, its own jobs only):\n"
            f"  curl -s {auth_header} -H 'content-type: application/json' -d '{{\"name\": \"my-app\"}}' {base}/v1/keys\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while all(p.popen.poll() is None for p in stack.procs):
            time.sleep(1)
        dead = [p for p in stack.procs if p.popen.poll() is not None]
        sys.exit(f"stopped: {', '.join(p.name for p in dead)} exited; see its log under {args.workdir}/")
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


def admin_key(key_file: Path) -> str:
    """``ADMIN_API_KEY`` when set; else the key kept in ``key_file`` (made on first run, mode 600)."""
    configured = os.environ.get("ADMIN_API_KEY")
    if configured:
        return configured
    if key_file.is_file():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(apikeys.new_secret() + "\n")
    return key_file.read_text().strip()


if __name__ == "__main__":
    main()
