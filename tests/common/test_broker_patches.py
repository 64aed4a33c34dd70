"""kombu's Redis channel outliving its connection is an outage, not a crash (common.broker_patches)."""

import pytest
import redis
from kombu import Connection
from kombu.common import ignore_errors

from common.celery_app import make_celery
from common.config import CoreSettings


def test_a_channel_whose_connection_was_released_raises_a_connection_error(redis_stack):
    make_celery(CoreSettings(redis_url=redis_stack.redis_url))  # applies the fix
    with Connection(redis_stack.redis_url) as connection:
        channel = connection.channel()
        transport = channel.connection
        channel._pool = None  # as after a dropped connection: the pool is made again on demand
        transport.client = None  # what kombu leaves once the connection is released
        try:
            with pytest.raises(redis.ConnectionError):
                channel._create_client()
            # So closing it while Celery handles the outage is ignored like any connection error.
            with ignore_errors(connection):
                channel._create_client()
        finally:
            transport.client = connection
