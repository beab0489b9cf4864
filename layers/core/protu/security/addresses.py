"""Where a request comes from, as the security controls count it: never a stored address, only keys.

Below the sign-in guard, the address blocks and the rate limits, which all count by these keys.
"""

from __future__ import annotations

import hashlib
import ipaddress

IPV6_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64: counting single addresses would be useless


def address_key(source_ip: str) -> str:
    """The address key: an IPv4 address as is (IPv4-mapped IPv6 too), an IPv6 address as its /64 network; text
    that is not an address is counted as it comes."""
    text = (source_ip or "").strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text or "<unknown>"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def network_id(source_ip: str) -> str:
    """A short hash of the network an address belongs to (/24 for IPv4, /64 for IPv6): what an account keeps of
    the networks it signed in from, so its holder's requests can be told from a stranger's without storing an
    address."""
    text = (source_ip or "").strip()
    try:
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        prefix = 24 if address.version == 4 else IPV6_PREFIX
        text = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    except ValueError:
        text = text or "<unknown>"
    return hashlib.sha256(("network:" + text).encode()).hexdigest()[:16]
