"""Which webhook URLs may be called: http(s) only, and no loopback, private, link-local or
otherwise internal address unless ``WEBHOOK_ALLOW_PRIVATE`` says so (a local receiver).

Checked at submit (the API) and again before every delivery (the hooks worker): DNS can
change in between. A delivery connects to an address this check accepted (``resolve``), so
a name that resolves anew between the check and the connection cannot slip through.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


class WebhookRefused(ValueError):
    """The URL may not be called; the message says why."""


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def target(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL; ``WebhookRefused`` for any other."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("webhook must be an http or https URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused(f"webhook port: {exc}") from None
    return parts.scheme, parts.hostname, port


def resolve(url: str, allow_private: bool) -> list[str]:
    """The addresses the URL's host resolves to, all of them allowed; ``WebhookRefused`` when
    it does not resolve or any of them is internal (and that is not allowed)."""
    _, host, port = target(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(f"webhook host {host!r} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if _internal(ipaddress.ip_address(address.split("%", 1)[0])):
                raise WebhookRefused(
                    f"webhook host {host!r} resolves to {address}, an internal address "
                    "(loopback, private, link-local or reserved); set WEBHOOK_ALLOW_PRIVATE=true to allow it"
                )
    return addresses
