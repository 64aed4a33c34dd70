"""Fetching an input by URL (common/http_fetch.py) against real sockets on loopback: the URL and
every redirect target checked before connecting, the size cap counted while the body streams,
one deadline for the whole fetch, every failure a ``FetchFailed`` that says why."""

import ipaddress
import socket
import time

import pytest

from common import http_fetch, webhook_urls
from tests.file_server import Answer, FileServer, trickling_server


def _fetch(url: str, max_bytes: int = 1000, timeout_s: float = 5, allow_private: bool = True) -> bytes:
    return http_fetch.fetch(url, max_bytes, timeout_s, allow_private, "input URL", "INPUT_URL_ALLOW_PRIVATE")


def _refusal(url: str, **options) -> str:
    with pytest.raises(http_fetch.FetchFailed) as failed:
        _fetch(url, **options)
    return str(failed.value)


def test_a_body_is_fetched_and_redirects_to_allowed_addresses_are_followed():
    with FileServer({"/image.png": Answer(body=b"the image")}) as server:
        moved = {
            "/old": Answer(301, headers={"Location": "/older"}),
            "/older": Answer(307, headers={"Location": server.url("/image.png")}),
        }
        server.answers.update(moved)
        assert _fetch(server.url("/image.png")) == b"the image"
        assert _fetch(server.url("/old")) == b"the image"
        assert server.requests == ["/image.png", "/old", "/older", "/image.png"]


def test_a_redirect_to_an_internal_address_is_refused_before_connecting(monkeypatch):
    # 127.0.0.1 stands for a public address here, 127.0.0.2 for an internal one: the first
    # hop passes the check, the redirect's target must not (and is never connected to).
    monkeypatch.setattr(webhook_urls, "_internal", lambda address: address == ipaddress.ip_address("127.0.0.2"))
    with FileServer({"/x": Answer(body=b"secret")}, host="127.0.0.2") as internal, FileServer({}) as public:
        public.answers["/in"] = Answer(302, headers={"Location": internal.url("/x", host="127.0.0.2")})
        message = _refusal(public.url("/in"), allow_private=False)
        assert public.requests == ["/in"] and internal.requests == []
    assert message.startswith("refused: input URL host '127.0.0.2' resolves to 127.0.0.2, an internal address")
    assert "INPUT_URL_ALLOW_PRIVATE=true" in message


def test_an_internal_address_is_refused_unless_allowed_and_other_schemes_always():
    with FileServer({"/image.png": Answer(body=b"the image")}) as server:
        message = _refusal(server.url("/image.png"), allow_private=False)
        assert server.requests == []
        server.answers["/ftp"] = Answer(302, headers={"Location": "ftp://127.0.0.1/image.png"})
        assert _refusal(server.url("/ftp")) == "refused: input URL must be an http or https URL with a host"
    assert message.startswith("refused: ") and "INPUT_URL_ALLOW_PRIVATE" in message


def test_a_body_over_the_cap_is_refused_by_its_length_or_while_it_streams():
    body = b"x" * 5000
    with FileServer({"/told": Answer(body=body), "/streamed": Answer(body=body, chunked=True)}) as server:
        assert _refusal(server.url("/told"), max_bytes=4999).endswith("is 5000 bytes; the limit is 4999")
        assert _refusal(server.url("/streamed"), max_bytes=4999).endswith("sent more than the limit of 4999 bytes")
        assert _fetch(server.url("/streamed"), max_bytes=5000) == body


def test_an_error_status_fails_naming_it_but_not_the_query_or_credentials():
    with FileServer({}) as server:
        url = server.url("/gone.png?X-Amz-Signature=s3cr3t").replace("http://", "http://user:pw@")
        message = _refusal(url)
    assert message == f"http://127.0.0.1:{server.server.server_port}/gone.png answered HTTP 404 Not Found"


def test_a_loop_of_redirects_stops_after_the_most_allowed():
    with FileServer({}) as server:
        server.answers["/loop"] = Answer(302, headers={"Location": "/loop"})
        message = _refusal(server.url("/loop"))
        assert len(server.requests) == http_fetch.MAX_REDIRECTS + 1
    assert message.startswith(f"more than {http_fetch.MAX_REDIRECTS} redirects")


def test_the_timeout_bounds_the_whole_fetch_even_against_a_server_that_trickles():
    # The answer comes one byte every 0.2 s: 200 s for the whole of it.
    with trickling_server(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"a" * 1000) as base:
        started = time.monotonic()
        message = _refusal(f"{base}/slow", timeout_s=1)
        took = time.monotonic() - started
    assert message.endswith("/slow did not answer within 1 s")
    # Not before the 1 s deadline, nowhere near the 200 s the trickle lasts (its margin).
    assert 0.9 <= took < 20


def test_nobody_listening_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        message = _refusal(f"http://127.0.0.1:{port}/x")
    assert message.startswith(f"http://127.0.0.1:{port}/x: connection error: ")
