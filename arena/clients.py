"""Who sent a request, as far as the arena can believe it: the client's network address, the
logged-in user and the browser (User-Agent).

The address is the TCP peer's unless the peer is a configured trusted proxy. Then X-Forwarded-For
is read from the right (each proxy appends the address it received the request from), skipping
trusted proxies: the first address that is not one is the client. Entries further left were
written by the client itself and are never read, so sending the header picks no address. An
entry that is not an address ends the walk at the proxy that passed it on. A peer that is not a
trusted proxy is the client, whatever headers it sends.

Addresses are grouped as a person is likely to hold them: an IPv4 address as it is, an IPv6
address by its /64 network (one subscriber's usual allocation, where fresh addresses are free)."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jeval.arena.config import Proxies

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV6_GROUP = 64


@dataclass(frozen=True)
class ClientInfo:
    """A request's sender: `address` is the grouping key (see the module's note), `user` a login
    name, `agent` the User-Agent; each None when unknown."""

    address: str | None = None
    user: str | None = None
    agent: str | None = None


class TrustedProxies:
    def __init__(self, entries: Iterable[str]):
        self.networks = tuple(ipaddress.ip_network(e, strict=False) for e in entries)

    def __contains__(self, address: Address) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def parse_address(text: str) -> Address | None:
    """An address from a peer or header entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
    `[2001:db8::1]:443`; an IPv4-mapped IPv6 address as its IPv4 address; None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def group_key(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_GROUP}", strict=False))
    return str(address)


def client_address(peer: str | None, forwarded_for: Iterable[str], proxies: TrustedProxies) -> str | None:
    """The client's address key from the TCP peer and the X-Forwarded-For header values."""
    seen = parse_address(peer) if peer else None
    if seen is None:
        return None
    if seen not in proxies:
        return group_key(seen)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break
        seen = address
        if seen not in proxies:
            break
    return group_key(seen)


def header_values(headers: Any, name: str) -> list[str]:
    """Every value of one header, from Starlette's Headers (repeated headers kept) or a mapping."""
    if headers is None:
        return []
    if hasattr(headers, "getlist"):
        return list(headers.getlist(name))
    if isinstance(headers, Mapping):
        return [str(v) for k, v in headers.items() if str(k).lower() == name.lower()]
    return []


def client_info(peer: str | None, headers: Any, username: str | None, proxies: Proxies) -> ClientInfo:
    trusted = TrustedProxies(proxies.trusted)
    user = username or None
    if user is None and proxies.user_header and peer:
        seen = parse_address(peer)
        if seen is not None and seen in trusted:
            user = next((v.strip() for v in header_values(headers, proxies.user_header) if v.strip()), None)
    agent = next((v for v in header_values(headers, "user-agent") if v.strip()), None)
    return ClientInfo(client_address(peer, header_values(headers, "x-forwarded-for"), trusted), user, agent)


def from_request(request: Any, proxies: Proxies) -> ClientInfo:
    """The sender of a Gradio event (`gr.Request`: `client.host`, `headers`, `username`)."""
    if request is None:
        return ClientInfo()
    try:
        client = request.client
        peer = getattr(client, "host", None) if client is not None else None
        headers = request.headers
    except AttributeError:
        peer, headers = None, None
    return client_info(peer, headers, getattr(request, "username", None), proxies)


def keep_peer_address() -> None:
    """Stop the web server from rewriting the peer address itself. uvicorn (under Gradio) replaces
    the peer with an X-Forwarded-For entry whenever the peer is in FORWARDED_ALLOW_IPS (by default
    127.0.0.1 and ::1), so any local caller could choose its address and the arena could no longer
    tell which proxy it talks to. The arena's own `proxies.trusted` decides instead. Call it before
    the server starts: uvicorn reads the variable then."""
    previous = os.environ.get("FORWARDED_ALLOW_IPS")
    if previous:
        log.warning("arena: FORWARDED_ALLOW_IPS=%s is ignored; list reverse proxies under `proxies: trusted:` in "
                    "the arena config", previous)
    os.environ["FORWARDED_ALLOW_IPS"] = ""
