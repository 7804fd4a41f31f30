"""Who is asking: the client's address, with X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import ipaddress
from typing import Any

from api import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.5:443
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack server sees an IPv4 peer as ::ffff:a.b.c.d: the same host, which must match an
    # IPv4 TRUSTED_PROXIES entry and share the IPv4 address's counter.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _bucket(address: Address | None) -> str:
    """One counter per client: an IPv6 subscriber gets a whole /64, so it is counted as one."""
    if address is None:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_address(scope: Any) -> str:
    """The address to count a client's attempts against.

    The peer of the connection, unless it is one of TRUSTED_PROXIES: then X-Forwarded-For is read
    from the right (each proxy appends the address it saw) and the first hop that is not itself a
    trusted proxy is the client. Whatever a client wrote into the header itself stands further left
    and is never reached; an unreadable hop stops the walk at the last trusted one.

    This is the only place the header is read: `python -m api serve` runs uvicorn without its
    proxy_headers, which would otherwise rewrite scope["client"] by rules of its own first.
    """
    client = scope.get("client")
    address = _parse(str(client[0])) if client else None
    proxies = settings.get().trusted_proxies
    if address is None or not proxies or not any(address in net for net in proxies):
        return _bucket(address)
    hops = [
        hop
        for name, value in scope.get("headers", [])
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops):
        forwarded = _parse(hop)
        if forwarded is None:
            break
        address = forwarded
        if not any(forwarded in net for net in proxies):
            break
    return _bucket(address)
