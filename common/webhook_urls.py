"""Which webhook URLs may be called: http(s) only, and no loopback, private, link-local or
otherwise internal address unless ``WEBHOOK_ALLOW_PRIVATE`` says so (a local receiver). Inputs
by URL (``common.http_fetch``) are fetched under the same rule, ``INPUT_URL_ALLOW_PRIVATE``
their own switch (``what`` and ``setting`` name them in the refusals). An
IPv6 address that embeds an IPv4 one (IPv4-mapped or -compatible, NAT64, 6to4, Teredo) is
judged by that IPv4 address too: ``[64:ff9b::7f00:1]`` reaches 127.0.0.1 through a translator.

Checked at submit (the API) and again before every delivery (the hooks worker): DNS can
change in between. A delivery connects to an address this check accepted (``resolve``), so
a name that resolves anew between the check and the connection cannot slip through.
"""

import ipaddress
import socket
from urllib.parse import urlsplit


class WebhookRefused(ValueError):
    """The URL may not be called (a webhook's, or an input's); the message says why."""


# IPv6 forms that carry an IPv4 address in their last 32 bits, which reach that IPv4 host
# (through a translator, or a stack that still speaks them); Python calls some of them global.
_LOW_32_EMBEDDING = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "::/96",  # IPv4-compatible (deprecated)
        "64:ff9b::/96",  # NAT64, the well-known prefix
    )
)
# NAT64 for a network's own use: where the IPv4 address sits depends on that network's prefix
# length, so none of it is judged by an address inside; refused whole.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _embedded(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (6to4, Teredo, NAT64 and the like)."""
    found = []
    if any(address in net for net in _LOW_32_EMBEDDING):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # the server, and the client it relays to
    return found


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return True
        if any(_internal(v4) for v4 in _embedded(address)):
            return True
    return not address.is_global or address.is_multicast


def target(url: str, what: str = "webhook") -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL; ``WebhookRefused`` for any other."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"{what} must be an http or https URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookRefused(f"{what} port: {exc}") from None
    return parts.scheme, parts.hostname, port


def resolve(url: str, allow_private: bool, what: str = "webhook", setting: str = "WEBHOOK_ALLOW_PRIVATE") -> list[str]:
    """The addresses the URL's host resolves to, all of them allowed; ``WebhookRefused`` when
    it does not resolve or any of them is internal (and that is not allowed)."""
    _, host, port = target(url, what)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookRefused(f"{what} host {host!r} does not resolve: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if _internal(ipaddress.ip_address(address.split("%", 1)[0])):
                raise WebhookRefused(
                    f"{what} host {host!r} resolves to {address}, an internal address "
                    f"(loopback, private, link-local or reserved); set {setting}=true to allow it"
                )
    return addresses
