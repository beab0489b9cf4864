"""Where an audit stream may send the audit log: "how could a stranger aim this at someone else?"

An endpoint receives the whole audit log of a company, from our network. So its address is held to rules twice:

* **When it is given** (``check``): ``https://`` only; at most ``MAX_URL`` characters of printable ASCII (anything
  else percent-encoded); no user name or password (``user:pass@``); no fragment; a port, if any, in 1..65535; the
  host a DNS name (letters, digits, hyphens; at least two labels, the last one not numeric, so ``127.1``,
  ``0x7f.1`` and ``2130706433``, which resolvers read as addresses, are refused) or an IP literal that is
  global (``is_global``): loopback, private, link-local (the cloud's metadata address ``169.254.169.254``),
  shared, reserved, multicast and unspecified addresses are refused, as is an IPv6 address embedding one
  (IPv4-mapped, 6to4, Teredo, NAT64).
* **When it is used** (``allowed_addresses``, called by ``transport`` as it opens each connection): the host is
  resolved and the connection goes to one of the addresses just checked, only if every address the name has is
  global. So a name that resolves to an internal address, or that changes its answer between a check and the
  connection (DNS rebinding), reaches nothing inside.

Locally (``make run``) the local server is plain HTTP on 127.0.0.1: ``<its origin>/_local/siem/<name>`` (its SIEM
receiver, ``infra/server.py``) is allowed only when the stage is ``local`` and ``AUDIT_STREAMS_LOCAL_ORIGIN`` names
that origin, a setting the local cloud sets and ``template.yaml`` never does.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import msgspec

from protu import errors
from protu.settings import settings

MAX_URL = 2000
LOCAL_PATH = "/_local/siem/"
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
_LOCAL_ORIGIN = re.compile(r"http://(?:127\.0\.0\.1|localhost):[0-9]{1,5}")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Target(msgspec.Struct, frozen=True):
    """A checked endpoint address."""

    url: str  # as given: what a delivery posts to
    host: str  # lower case, without brackets
    port: int
    shown: str  # the url without its query string's content (``?…``): what answers, logs and mail may show
    local: bool = False  # the local server's SIEM receiver (make run)


class AddressNotAllowed(Exception):
    """A delivery's host resolved to an address that is not global: nothing is sent.

    Deliberately not an ``OSError``: urllib3 and requests let it through unchanged, so no retry or wrapping hides it.
    """


def refused(why: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(
        f"This address cannot receive the audit log: {why}", code="url_not_allowed", details={"field": "url"}
    )


def check(url: str) -> Target:
    """The endpoint address ``url``, checked (see the module doc); 422 ``url_not_allowed`` naming the field."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise refused(f"give an https:// address of at most {MAX_URL} characters.")
    if not _PRINTABLE.fullmatch(url):
        raise refused("spaces, control characters and non-ASCII characters must be percent-encoded.")
    local = _local(url)
    if local is not None:
        return local
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refused("it is not a valid URL.") from None
    if parts.scheme != "https" or not url.startswith("https://"):
        raise refused("only https:// addresses are accepted.")
    if "#" in url:
        raise refused("an address with a fragment (#...) is not accepted.")
    if "@" in parts.netloc:
        raise refused("an address with a user name or password is not accepted; give credentials in its path or query.")
    host = (parts.hostname or "").lower()
    if not host:
        raise refused("it names no host.")
    if port == 0:
        raise refused("the port must be between 1 and 65535.")
    literal = _ip_literal(parts.netloc, host)
    if literal is not None:
        if not is_global(literal):
            raise refused("it names a private, loopback, link-local or reserved address.")
    elif not _HOST.fullmatch(host) or len(host) > 253:
        raise refused("its host must be a public DNS name or a global IP address.")
    shown = f"https://{parts.netloc.lower()}{parts.path}" + ("?…" if parts.query else "")
    return Target(url=url, host=host, port=port or 443, shown=shown)


def _local(url: str) -> Target | None:
    """The local server's SIEM receiver, when the local cloud allows it (never in the cloud)."""
    current = settings()
    origin = current.audit_streams_local_origin
    if not (current.is_local and origin and _LOCAL_ORIGIN.fullmatch(origin)):
        return None
    prefix = origin + LOCAL_PATH
    if not url.startswith(prefix) or len(url) == len(prefix) or "#" in url:
        return None
    parts = urlsplit(url)
    return Target(url=url, host="127.0.0.1", port=parts.port or 80, shown=url.split("?", 1)[0], local=True)


def _ip_literal(netloc: str, host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if netloc.rpartition("@")[2].startswith("["):
        if "%" in host:  # a zone (fe80::1%eth0) only means something on this machine
            raise refused("it names a private, loopback, link-local or reserved address.")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise refused("it is not a valid URL.") from None
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        return None


def is_global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a connection to ``address`` leaves for the public internet, and only there."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_global(embedded):
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def allowed_addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host`` a delivery may connect to: all of them, when every one is global; otherwise
    ``AddressNotAllowed``. ``socket.gaierror`` when the name does not resolve."""
    found: list[str] = []
    for _family, _type, _proto, _name, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        text = str(address[0]).split("%", 1)[0]
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise AddressNotAllowed(host) from None
        if not is_global(ip):
            raise AddressNotAllowed(host)
        if text not in found:
            found.append(text)
    if not found:
        raise AddressNotAllowed(host)
    return found
