"""Where a webhook may send: http(s) URLs whose every resolved address is public.

`resolve_public` resolves the host name at each attempt and refuses private, loopback, link-local,
unspecified, multicast and reserved addresses (unless `WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true`); the
sender then connects to the address it checked (`deliveries` puts it in the URL and keeps the name for
the Host header and TLS), so a name that resolves differently a moment later (DNS rebinding) changes
nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from crm_app.platform.config import get_settings
from crm_app.platform.i18n import N_

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

INVALID_URL = N_("Enter a full http:// or https:// address.")
PRIVATE_ADDRESS = N_("This address is on a private or local network, where webhooks may not be sent.")
UNRESOLVED = N_("This host name could not be resolved.")


class AddressRefused(Exception):
    """The URL may not be called: `message` (a message id) says why."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`), and what to call it (`host`, for Host and TLS)."""

    scheme: str
    host: str
    port: int
    path: str  # with the query string
    address: IPAddress

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"

    @property
    def pinned_url(self) -> str:
        """The URL with the checked address in place of the name."""
        shown = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{shown}:{self.port}{self.path}"


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; AddressRefused(INVALID_URL) otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise AddressRefused(INVALID_URL) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise AddressRefused(INVALID_URL)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (an IPv4 address mapped in IPv6 counts as itself)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )


def private_networks_allowed() -> bool:
    return get_settings().webhooks_allow_private_networks


def resolve_public(url: str) -> Target:
    """Resolve the URL's host now and return the first address to connect to, every resolved address
    being public (unless private networks are allowed). AddressRefused otherwise."""
    scheme, host, port, path = split_url(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(UNRESOLVED, f"{host}: {exc}") from None
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise AddressRefused(UNRESOLVED, host)
    if not private_networks_allowed():
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            # One private answer is enough to refuse: a name that mixes both is how rebinding starts.
            raise AddressRefused(PRIVATE_ADDRESS, f"{host} resolves to {refused[0]}")
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])
