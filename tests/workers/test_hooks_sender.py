"""One delivery attempt (workers/domains/hooks/sender.py) against real sockets on 127.0.0.1:
no redirect followed, one deadline for the whole attempt, the URL checked before connecting."""

import random
import socket
import time

import pytest

from common import webhook_urls
from tests.file_server import trickling_server
from tests.webhook_receiver import Receiver
from workers.domains.hooks import sender
from workers.domains.hooks.schedule import retry_delay_s

HEADERS = {"content-type": "application/json", "webhook-id": "msg_test"}


def test_a_2xx_answer_delivers_and_the_host_header_names_the_urls_host():
    with Receiver() as receiver:
        port = receiver.server.server_port
        answer = sender.post(f"http://localhost:{port}/in?team=7", b"{}", HEADERS, 5, allow_private=True)
        (delivery,) = receiver.wait_for(1)
    assert answer == sender.Answer(True, "200")
    assert delivery.headers["host"] == f"localhost:{port}" and delivery.path == "/in?team=7"
    assert delivery.headers["webhook-id"] == "msg_test" and delivery.body == b"{}"


def test_a_redirect_is_a_failed_attempt_and_is_not_followed():
    with Receiver() as target, Receiver(statuses=(302,), headers={"location": target.url}) as redirecting:
        answer = sender.post(redirecting.url, b"{}", HEADERS, 5, allow_private=True)
        # post() answers after its last request: a followed redirect would be recorded by now.
        assert target.deliveries == []
    assert answer == sender.Answer(False, "302")


def test_an_internal_address_is_refused_before_connecting_unless_allowed():
    with Receiver() as receiver:
        answer = sender.post(receiver.url, b"{}", HEADERS, 5, allow_private=False)
        assert receiver.deliveries == []  # a request it sent would be recorded by now
    assert not answer.ok and answer.status.startswith("refused: ") and "WEBHOOK_ALLOW_PRIVATE" in answer.status


# IPv6 forms that reach 127.0.0.1 (or a network's own NAT64), which Python calls global.
EMBEDDED_LOOPBACK = {
    "nat64": "http://[64:ff9b::7f00:1]/",
    "local-nat64": "http://[64:ff9b:1::808:808]/",
    "6to4": "http://[2002:7f00:1::1]/",
    "ipv4-compatible": "http://[::7f00:1]/",
    "ipv4-mapped": "http://[::ffff:127.0.0.1]/",
    "ipv4-translated": "http://[::ffff:0:7f00:1]/",
    "teredo": "http://[2001:0:808:808::80ff:fffe]/",  # server 8.8.8.8, client 127.0.0.1
}


@pytest.mark.parametrize("url", EMBEDDED_LOOPBACK.values(), ids=EMBEDDED_LOOPBACK.keys())
def test_an_ipv6_address_embedding_an_internal_ipv4_one_is_refused_before_connecting(url):
    answer = sender.post(url, b"{}", HEADERS, 2, allow_private=False)
    assert not answer.ok and answer.status.startswith("refused: ") and "WEBHOOK_ALLOW_PRIVATE" in answer.status


@pytest.mark.parametrize("host", ["64:ff9b::808:808", "2002:808:808::1", "8.8.8.8", "2606:4700:4700::1111"])
def test_an_address_embedding_a_public_ipv4_one_is_allowed(host):
    url = f"http://[{host}]/" if ":" in host else f"http://{host}/"
    assert webhook_urls.resolve(url, allow_private=False) == [host]


def test_the_timeout_bounds_the_whole_attempt_even_against_a_receiver_that_trickles():
    # The headers never end, one byte every 0.2 s: 200 s before the receiver runs out.
    with trickling_server(b"HTTP/1.1 200 OK\r\nx-slow: " + b"a" * 1000) as base:
        started = time.monotonic()
        answer = sender.post(f"{base}/", b"{}", HEADERS, 1, allow_private=True)
        took = time.monotonic() - started
    assert answer == sender.Answer(False, "timeout")
    # Not before the 1 s deadline, and nowhere near the 200 s the trickle lasts: a per-read
    # timeout alone would never fire (a byte comes every 0.2 s). The margin is the trickle's.
    assert 0.9 <= took < 20


def test_nobody_listening_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        answer = sender.post(f"http://127.0.0.1:{port}/", b"{}", HEADERS, 2, allow_private=True)
    assert not answer.ok and answer.status.startswith("connection error: ")


@pytest.mark.parametrize("attempt", range(1, 12))
def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap(attempt):
    rng = random.Random(attempt)
    ceiling = min(3600, 5 * 2 ** (attempt - 1))
    delays = [retry_delay_s(attempt, 5, 3600, rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > ceiling / 4  # jittered, not fixed
