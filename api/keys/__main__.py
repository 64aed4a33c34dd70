"""``python -m api.keys create|list|revoke``: manage API keys straight on Redis (``REDIS_URL``).

For the first admin key of a deployment, before any key exists to call ``/v1/keys`` with::

    python -m api.keys create --name ops --role admin     # prints the key once, as JSON
    python -m api.keys list
    python -m api.keys revoke key_0123abcd
    python -m api.keys new-secret                          # a random secret for ADMIN_API_KEY
"""

import argparse
import json
import sys

import redis

from common import apikeys, webhook_secrets
from common.config import CoreSettings
from common.scripts import SyncScripts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.keys", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=["user", "admin"], default="user")
    create.add_argument("--rate-limit-per-minute", type=int, default=None)
    create.add_argument("--max-jobs-in-flight", type=int, default=None)
    commands.add_parser("list", help="list keys (no secrets)")
    revoke = commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    commands.add_parser("new-secret", help="print a fresh random secret (e.g. for ADMIN_API_KEY)")
    args = parser.parse_args(argv)

    if args.command == "new-secret":
        print(apikeys.new_secret())
        return 0
    client = redis.Redis.from_url(CoreSettings().redis_url, decode_responses=True)
    scripts = SyncScripts(client)
    if args.command == "create":
        record, secret = apikeys.new_key(args.name, args.role, args.rate_limit_per_minute, args.max_jobs_in_flight)
        webhook_secret = webhook_secrets.new_secret()
        scripts.run(apikeys.create(record, secret, webhook_secret))
        print(json.dumps({**record.model_dump(mode="json"), "key": secret, "webhook_secret": webhook_secret}))
    elif args.command == "list":
        print(json.dumps({"keys": [r.model_dump(mode="json") for r in scripts.run(apikeys.list_keys())]}))
    else:
        revoked = scripts.run(apikeys.revoke(args.key_id))
        if revoked is None:
            print(f"no key with id {args.key_id!r}", file=sys.stderr)
            return 1
        print(json.dumps(revoked.model_dump(mode="json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
