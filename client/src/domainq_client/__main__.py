"""``python -m domainq_client``: the ``domainq`` command."""

import sys

from domainq_client.cli import main

sys.exit(main())
