"""A small nameserver: the outside world's DNS for verifying company domains (``protu.identity.domains``).

It answers UDP queries for TXT records from an in-memory table (dnspython's ``dns.message`` parses and builds the
messages; a thread serves them): a name in the table answers its values, a name in no record ``NXDOMAIN`` (a name
with records of no value: an empty answer). The local server starts one and points ``DNS_NAMESERVERS`` at it, and
serves ``PUT /_local/dns/<name>`` (a JSON list of values, or ``{"values": [...]}``) and ``DELETE
/_local/dns/<name>`` to set and clear records (``answer``); tests start their own on a free port and set records
on it directly, as a company's DNS administrator would publish them.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class NameServer:
    """TXT records by name (lower case, without the trailing dot), served over UDP on 127.0.0.1:``port``."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, list[str]] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        self._thread: threading.Thread | None = None
        self._running = False
        self.silent = False  # True: answer nothing (a lookup times out)

    @property
    def address(self) -> str:
        """What ``DNS_NAMESERVERS`` names: ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    @staticmethod
    def _key(name: str) -> str:
        return name.strip().rstrip(".").lower()

    def set(self, name: str, values: list[str]) -> None:
        with self._lock:
            self._records[self._key(name)] = [str(value) for value in values]

    def clear(self, name: str) -> None:
        with self._lock:
            self._records.pop(self._key(name), None)

    def records(self) -> dict[str, list[str]]:
        with self._lock:
            return {name: list(values) for name, values in self._records.items()}

    def start(self) -> NameServer:
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="local-dns", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        self._socket.close()

    def _serve(self) -> None:
        while self._running:
            try:
                data, client = self._socket.recvfrom(4096)
            except OSError:
                return
            if self.silent:
                continue
            reply = self.reply(data)
            if reply is not None:
                try:
                    self._socket.sendto(reply, client)
                except OSError:
                    return

    def reply(self, data: bytes) -> bytes | None:
        """The wire answer to one query (None for bytes that are not a DNS query)."""
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        with self._lock:
            values = self._records.get(self._key(question.name.to_text()))
        if values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT and values:
            texts = [_txt(value) for value in values]
            response.answer.append(dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, *texts))
        return response.to_wire()

    # ------------------------------------------------------------------------------------------ the local routes
    def answer(self, method: str, path: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
        """``/_local/dns`` of the local server: ``GET`` (every record), ``PUT /<name>`` (the values: a JSON list, or
        ``{"values": [...]}``), ``DELETE /<name>``."""
        name = path.removeprefix("/_local/dns").strip("/")
        if method == "GET" and not name:
            return 200, self.records()
        if not name:
            return 404, {"error": {"code": "route_not_found", "message": "Name a record: /_local/dns/<name>."}}
        if method == "DELETE":
            self.clear(name)
            return 204, None
        if method == "PUT":
            try:
                given = json.loads(body or "null")
            except ValueError:
                given = None
            values = given.get("values") if isinstance(given, dict) else given
            if not isinstance(values, list) or not all(isinstance(v, str) and len(v) <= 1000 for v in values):
                return 422, {"error": {"code": "validation_failed", "message": "Send a JSON list of strings."}}
            self.set(name, values)
            return 200, {"name": self._key(name), "values": values}
        return 405, {"error": {"code": "method_not_allowed", "message": "GET, PUT or DELETE."}}


def _txt(value: str) -> str:
    """A TXT value in zone-file text: quoted, in strings of at most 255 bytes."""
    raw = value.encode("utf-8")
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join(
        '"' + chunk.decode("utf-8", "replace").replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks
    )
