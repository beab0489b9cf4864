#!/usr/bin/env python3
"""Verify a Protu audit export offline, as a customer's auditor.

    pip install cryptography
    python verify_audit_export.py export.jsonl --public-key protu-audit.pem [--json]

Protu records each company's audit events in a hash chain: every event carries the SHA-256 hash of its own
contents and the hash of the event before it, so changing, removing, inserting or reordering an event breaks a
link. Every hour Protu signs a "digest" of each company's new events (the range of sequence numbers, the hash of
the last one, and the hash of the previous digest) with an ECDSA P-256 key held in AWS KMS. An export
(format version 1, JSON Lines: a header, the events, the digests) carries events and the digests that sign them.

This program checks, with nothing but Python and the `cryptography` package, that:

1. every digest's signature verifies with the public key (pass the key Protu publishes at
   GET /api/audit-events/public-key with --public-key; the key inside the export proves nothing by itself),
   and each digest names the export's company, key and algorithm, and follows the one before it;
2. every event's hash matches its contents, each event links to the one before it, their sequence numbers
   have no gap, and every event is the export's company's;
3. the digests' segments cover the events with no gap, and each digest's signed hash is the hash of the event it
   names, so the signature fixes every event up to it;
4. the requested range (since/until in the header) is complete: the file starts at the company's first event or
   before `since`, and a signed event after `until` is in it.

It prints what it proved and each problem it found, naming the line of the file and the event or digest.
Exit status: 0 everything is proved; 1 the file was altered or is not a valid export (or could not be read);
2 nothing was found altered, but not everything is proved (events newer than the newest digest, a range whose
end or start is not provably complete, or no --public-key given). See docs/audit.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import re
import sys
from datetime import datetime

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
except ImportError:
    sys.exit("verify_audit_export.py needs the cryptography package: pip install cryptography")

FORMAT = "protu-audit-export"
ALGORITHM = "ECDSA_SHA_256"
#: The fields an event's hash covers (canonical JSON sorts them); the event document adds "hash".
FIELDS = (
    "tenant",
    "seq",
    "actor",
    "action",
    "target",
    "time",
    "request_id",
    "source_ip",
    "outcome",
    "details",
    "prev_hash",
)
STORED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})")
SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
SHOWN = 100  # problems printed (--json lists them all)

# What each line holds: field -> the JSON types it may have (None: null).
HEADER = {
    "type": (str,),
    "format": (str,),
    "version": (int,),
    "tenant": (str,),
    "export_id": (str,),
    "created_at": (str,),
    "since": (str, None),
    "until": (str,),
    "first_seq": (int,),
    "last_seq": (int,),
    "public_key": (dict,),
}
PUBLIC_KEY = {"key_id": (str,), "algorithm": (str,), "public_key_pem": (str,)}
EVENT = {
    **{name: (str,) for name in (*FIELDS, "hash")},
    "seq": (int,),
    "request_id": (str, None),
    "source_ip": (str, None),
    "details": (dict,),
}
DIGEST = {
    "version": (int,),
    "tenant": (str,),
    "first_seq": (int,),
    "last_seq": (int,),
    "last_hash": (str,),
    "previous_digest_hash": (str, None),
    "time": (str,),
    "key_id": (str,),
    "algorithm": (str,),
    "signature": (str,),
}
TYPE_NAMES = {str: "a string", int: "an integer", dict: "an object", None: "null"}


# ---------------------------------------------------------------------------------------------- hashing, as Protu
def canonical_json(value: object) -> str:
    """Sorted keys, no spaces, ASCII only: the one text of a value that every hash and signature is over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def genesis_hash(tenant: str) -> str:
    """The prev_hash of a company's first event (seq 1)."""
    return sha256_hex("protu-audit-genesis:" + tenant)


def event_hash(event: dict) -> str:
    return sha256_hex(canonical_json({name: event.get(name) for name in FIELDS}))


def signed_bytes(digest: dict) -> bytes:
    """What a digest's signature covers: its canonical JSON without the signature, in UTF-8."""
    return canonical_json({k: v for k, v in digest.items() if k != "signature"}).encode("utf-8")


def digest_hash(digest: dict) -> str:
    """How the next digest names this one (its previous_digest_hash)."""
    return hashlib.sha256(signed_bytes(digest)).hexdigest()


# ---------------------------------------------------------------------------------------------- reading
def parse_line(raw: bytes) -> dict:
    """One line as a JSON object; ValueError says why it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1})") from None
    if not text.strip():
        raise ValueError("an empty line (each line must be one JSON object)")
    try:
        value = json.loads(text, object_pairs_hook=_no_repeats, parse_float=_finite, parse_constant=_not_json)
        if SURROGATE.search(text):  # a lone surrogate escape is not text (a pair is: one character)
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise ValueError("not JSON: nested too deeply") from None
    except UnicodeEncodeError:
        raise ValueError("not JSON text: it escapes a lone surrogate") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error.msg} at column {error.colno}; was the file cut short?)") from None
    except ValueError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _no_repeats(pairs: list) -> dict:
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the field {shown(key)} appears twice")
        found[key] = value
    return found


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:30]} is out of range")
    return value


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def wrong_fields(value: dict, expected: dict) -> list[str]:
    """What is wrong with the fields of an object: missing, unexpected, or of the wrong JSON type."""
    found = [f"{shown(name)} is missing" for name in expected if name not in value]
    found += [f"unexpected field {shown(name)}" for name in value if name not in expected]
    for name, kinds in expected.items():
        if name in value and not any(value[name] is None if k is None else type(value[name]) is k for k in kinds):
            found.append(f"{shown(name)} must be {' or '.join(TYPE_NAMES[k] for k in kinds)}")
    return found


def shown(value: object) -> str:
    """A value from the file, quoted and escaped (nothing in it reaches the terminal as is)."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def instant(text: object) -> datetime | None:
    """An RFC 3339 time with its offset, or None."""
    if not isinstance(text, str) or not RFC3339.fullmatch(text):
        return None
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def span(first: int, last: int) -> str:
    return f"event {first}" if first == last else f"events {first}..{last}"


def are(first: int, last: int) -> str:
    return "is" if first == last else "are"


# ---------------------------------------------------------------------------------------------- keys
def load_key(pem: str | bytes) -> ec.EllipticCurvePublicKey:
    """An ECDSA P-256 public key from PEM; ValueError says why not."""
    try:
        key = load_pem_public_key(pem.encode("utf-8") if isinstance(pem, str) else pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return key


def read_key_file(path: str) -> tuple[ec.EllipticCurvePublicKey, str | None]:
    """The key of a PEM file, or of the JSON answer of GET /api/audit-events/public-key (with its key id)."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    if not data.lstrip().startswith(b"{"):
        return load_key(data), None
    try:
        answer = parse_line(data.replace(b"\n", b" ").replace(b"\r", b" "))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if wrong_fields(answer, PUBLIC_KEY) or answer["algorithm"] != ALGORITHM:
        raise ValueError(f"{path} is not the answer of GET /api/audit-events/public-key")
    return load_key(answer["public_key_pem"]), answer["key_id"]


def fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo (`openssl pkey -pubin -outform DER | sha256sum`)."""
    return hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()


# ---------------------------------------------------------------------------------------------- the checks
class Check:
    """One verification of one export: what the file holds, what is proved, and what is wrong."""

    def __init__(self, path: str, key_path: str | None) -> None:
        self.path, self.key_path = path, key_path
        self.problems: list[dict] = []  # the file was altered or is malformed: exit 1
        self.unproven: list[str] = []  # nothing altered, but this is not proved: exit 2
        self.notes: list[str] = []
        self.header: dict | None = None
        self.key: ec.EllipticCurvePublicKey | None = None
        self.key_id: str | None = None
        self.key_from = ""
        self.by_seq: dict[int, tuple[int, dict]] = {}  # seq -> (line, event), the events in order
        self.events: list[tuple[int, dict]] = []  # (line, event) as read, with an integer seq
        self.digests: list[tuple[int, dict]] = []  # (line, digest) as read, with usable fields
        self.verified_signatures = 0
        self.signed_to = 0  # the last seq the digests sign, tiling from the file's first event
        self.in_range = 0

    def problem(self, message: str, line: int | None = None, seq: int | None = None, digest: int | None = None):
        text = f"line {line}: {message}" if line else message
        self.problems.append({"line": line, "seq": seq, "digest": digest, "message": text})

    def run(self) -> None:
        lines = self.read()
        if not lines or not self.read_header(lines[0][1]) or not self.load_keys():
            return
        self.read_body(lines[1:])
        self.check_events()
        self.check_digests()
        self.check_coverage()
        self.check_range()

    def read(self) -> list[tuple[int, dict | None]] | None:
        try:
            with open(self.path, "rb") as file:
                data = file.read()
        except OSError as error:
            self.problem(f"cannot read {self.path}: {error.strerror or error}")
            return None
        if not data:
            self.problem("the file is empty: an export begins with its header line")
            return None
        raw = data.split(b"\n")
        if raw[-1] == b"":
            raw.pop()
        else:
            self.notes.append(f"line {len(raw)}, the last, does not end with a newline: was the file cut short?")
        lines: list[tuple[int, dict | None]] = []
        for number, text in enumerate(raw, 1):
            try:
                lines.append((number, parse_line(text)))
            except ValueError as error:
                self.problem(str(error), line=number)
                lines.append((number, None))
        return lines

    def read_header(self, header: dict | None) -> bool:
        """Line 1; without a valid header (the company, the range, the key) nothing else can be checked."""
        if header is None or header.get("type") != "header":
            self.problem("the first line is not the export's header: nothing can be verified", line=1)
            return False
        errors = wrong_fields(header, HEADER)
        if isinstance(header.get("public_key"), dict):
            errors += [f"public_key: {error}" for error in wrong_fields(header["public_key"], PUBLIC_KEY)]
        if not errors:
            errors = self.header_values(header)
        for error in errors:
            self.problem(f"header: {error}", line=1)
        if errors:
            self.problem("the header is not valid: nothing can be verified", line=1)
            return False
        self.header = header
        return True

    @staticmethod
    def header_values(header: dict) -> list[str]:
        errors = []
        if header["format"] != FORMAT or header["version"] != 1:
            errors.append(f"this program reads {FORMAT} version 1, not {shown(header['format'])} {header['version']}")
        if not header["tenant"]:
            errors.append("the tenant (company id) is empty")
        if instant(header["created_at"]) is None:
            errors.append(f"created_at {shown(header['created_at'])} is not an RFC 3339 time")
        for name in ("since", "until"):
            if header[name] is not None and not STORED_TIME.fullmatch(header[name]):
                errors.append(f"{name} {shown(header[name])} is not a time like 2026-12-01T00:00:00.000000Z")
        if not errors and header["since"] is not None and header["since"] > header["until"]:
            errors.append("since is after until")
        first, last = header["first_seq"], header["last_seq"]
        if not (first == last == 0 or 1 <= first <= last):
            errors.append(f"first_seq {first} and last_seq {last} are not a range of events (0, 0 for none)")
        if header["public_key"]["algorithm"] != ALGORITHM:
            errors.append(f"public_key: the algorithm must be {ALGORITHM}")
        return errors

    def load_keys(self) -> bool:
        exported = self.header["public_key"]
        try:
            in_file = load_key(exported["public_key_pem"])
        except ValueError as error:
            self.problem(f"header: the public key is {error}", line=1)
            return False
        self.key, self.key_id, self.key_from = in_file, exported["key_id"], "the export itself"
        if self.key_path is None:
            self.unproven.append(
                "no --public-key given: the digests were checked with the key inside the export, which whoever "
                "made the file could have made too. Fetch the key Protu publishes (GET /api/audit-events/public-key)"
                f" and pass it with --public-key, or compare its SHA-256 fingerprint with {fingerprint(in_file)}"
            )
            return True
        try:
            self.key, given_id = read_key_file(self.key_path)
        except ValueError as error:
            self.problem(f"the key given with --public-key: {error}")
            return False
        self.key_from = self.key_path
        if given_id is not None and given_id != self.key_id:
            self.notes.append(f"the export's header names the key {shown(self.key_id)}, not {shown(given_id)}")
            self.key_id = given_id
        if fingerprint(in_file) != fingerprint(self.key):
            self.notes.append(
                f"the export's header holds another key (fingerprint {fingerprint(in_file)}); the key you gave was used"
            )
        return True

    def read_body(self, lines: list[tuple[int, dict | None]]) -> None:
        digests_began = False
        for number, line in lines:
            kind = line.get("type") if line is not None else None
            if line is None:
                continue  # already named
            if kind == "event":
                if digests_began:
                    self.problem("an event after the digests (events come first)", line=number)
                self.read_event(number, line)
            elif kind == "digest":
                digests_began = True
                self.read_digest(number, line)
            elif kind == "header":
                self.problem("a second header", line=number)
            else:
                self.problem(f"a line of unknown type {shown(kind)}", line=number)

    def read_event(self, number: int, line: dict) -> None:
        errors = wrong_fields(line, {"type": (str,), "event": (dict,)})
        event = line.get("event") if isinstance(line.get("event"), dict) else None
        seq = event.get("seq") if event is not None and type(event.get("seq")) is int else None
        if event is not None:
            errors += wrong_fields(event, EVENT)
            if isinstance(event.get("time"), str) and not STORED_TIME.fullmatch(event["time"]):
                errors.append(f"its time {shown(event['time'])} is not a time like 2026-12-01T00:00:00.000000Z")
        if seq is not None and seq < 1:
            errors.append("its seq is below 1")
        for error in errors:
            self.problem(f"event {seq if seq is not None else '?'}: {error}", line=number, seq=seq)
        if seq is not None and seq >= 1:
            self.events.append((number, event))

    def read_digest(self, number: int, line: dict) -> None:
        errors = wrong_fields(line, {"type": (str,), "digest": (dict,)})
        digest = line.get("digest") if isinstance(line.get("digest"), dict) else {}
        if "digest" in line and isinstance(line["digest"], dict):
            errors += wrong_fields(digest, DIGEST)
        last = digest.get("last_seq") if type(digest.get("last_seq")) is int else None
        name = f"digest ending at {last}" if last is not None else "digest"
        if not errors:
            errors = self.digest_values(digest)
        for error in errors:
            self.problem(f"{name}: {error}", line=number, digest=last)
        if not errors:
            self.digests.append((number, digest))

    def digest_values(self, digest: dict) -> list[str]:
        errors = []
        if digest["version"] != 1 or digest["algorithm"] != ALGORITHM:
            errors.append(f"it is not a version 1 {ALGORITHM} digest")
        if digest["tenant"] != self.header["tenant"]:
            errors.append(f"it names company {shown(digest['tenant'])}, not {shown(self.header['tenant'])}")
        if digest["key_id"] != self.key_id:
            errors.append(f"it names the key {shown(digest['key_id'])}, not {shown(self.key_id)}")
        if not 1 <= digest["first_seq"] <= digest["last_seq"]:
            errors.append(f"its first_seq {digest['first_seq']} and last_seq are not a range of events")
        elif (digest["first_seq"] == 1) != (digest["previous_digest_hash"] is None):
            errors.append("previous_digest_hash must be null exactly when the digest begins at event 1")
        if instant(digest["time"]) is None:
            errors.append(f"its time {shown(digest['time'])} is not an RFC 3339 time with an offset")
        return errors

    def check_events(self) -> None:
        """Each event: its hash, its company, its place after the one before it."""
        tenant = self.header["tenant"]
        previous: dict | None = None
        for number, event in self.events:
            seq = event["seq"]
            if previous is not None and seq <= previous["seq"]:
                self.problem(f"event {seq} is out of order or repeated (after event {previous['seq']})", number, seq)
                continue
            if event.get("tenant") != tenant:
                company = shown(event.get("tenant"))
                self.problem(f"event {seq} belongs to company {company}, not {shown(tenant)}", number, seq)
            if event.get("hash") != event_hash(event):
                self.problem(f"event {seq}: its hash does not match its contents", number, seq)
            self.check_link(number, event, previous)
            self.by_seq[seq] = (number, event)
            previous = event
        self.check_header_range()

    def check_link(self, number: int, event: dict, previous: dict | None) -> None:
        seq = event["seq"]
        if previous is None:
            if seq == 1 and event.get("prev_hash") != genesis_hash(self.header["tenant"]):
                self.problem(
                    "event 1 does not begin the company's chain (prev_hash is not its genesis hash)", number, 1
                )
        elif seq > previous["seq"] + 1:
            gap = (previous["seq"] + 1, seq - 1)
            self.problem(f"{span(*gap)} {are(*gap)} missing (event {seq} follows {previous['seq']})", seq=gap[0])
        elif event.get("prev_hash") != previous.get("hash"):
            message = f"event {seq} does not link to event {seq - 1} (its prev_hash is not that event's hash)"
            self.problem(message, number, seq)

    def check_header_range(self) -> None:
        """The header says which events the file holds: a file cut short, or cut at its start, shows here."""
        first, last = self.header["first_seq"], self.header["last_seq"]
        if not self.by_seq:
            if last:
                self.problem(f"the header says the file holds events {first}..{last}, but it holds none")
            return
        low, high = min(self.by_seq), max(self.by_seq)
        if not first:
            self.problem(f"the header says the file holds no events, but it holds events {low}..{high}")
            return
        if low > first:
            self.problem(
                f"{span(first, low - 1)} {are(first, low - 1)} missing (the header says the file begins at {first})"
            )
        elif low < first:
            self.problem(f"the file begins at event {low}, before the header's first_seq {first}")
        if high < last:
            hint = "; was the file cut short?"
            self.problem(
                f"{span(high + 1, last)} {are(high + 1, last)} missing (the header says it ends at {last}{hint})"
            )
        elif high > last:
            self.problem(f"the file goes on to event {high}, after the header's last_seq {last}")

    def check_digests(self) -> None:
        """Each digest: its signature, its place after the one before it, and the event hash it signs."""
        if self.digests and not self.by_seq:
            self.problem(f"the file holds {len(self.digests)} digest(s) but no events")
            return
        previous: dict | None = None
        for number, digest in self.digests:
            name, last = f"digest ending at {digest['last_seq']}", digest["last_seq"]
            try:
                signature = base64.b64decode(digest["signature"], validate=True)
                self.key.verify(signature, signed_bytes(digest), ec.ECDSA(hashes.SHA256()))
                self.verified_signatures += 1
            except (InvalidSignature, ValueError):
                self.problem(f"{name}: the signature does not verify with the key", number, digest=last)
            self.check_place(number, digest, previous)
            found = self.by_seq.get(last)
            if found is None:
                self.problem(f"{name}: event {last}, whose hash it signs, is not in the file", number, digest=last)
            elif found[1].get("hash") != digest["last_hash"]:
                self.problem(
                    f"{name}: the hash it signs for event {last} is not the hash of event {last} in the file (line "
                    f"{found[0]}): the events up to {last} are not the ones that were signed",
                    number,
                    digest=last,
                )
            previous = digest
        self.signed_to = previous["last_seq"] if previous else 0

    def check_place(self, number: int, digest: dict, previous: dict | None) -> None:
        """Digests tile the events: the first begins at the file's first event, each next where the last ended."""
        first, last = digest["first_seq"], digest["last_seq"]
        expected = previous["last_seq"] + 1 if previous else self.header["first_seq"] or min(self.by_seq)
        if first > expected:
            gap = (expected, first - 1)
            self.problem(f"digest ending at {first - 1} is missing: {span(*gap)} {are(*gap)} not signed", digest=gap[1])
        elif first < expected and previous is None:
            self.problem(
                f"digest ending at {last} begins at event {first}, before the file's first event {expected}", number
            )
        elif first < expected:
            message = f"digest ending at {last} begins at event {first}, inside the digest before it (ending at "
            self.problem(f"{message}{previous['last_seq']})", number, digest=last)
        elif previous is not None and digest["previous_digest_hash"] != digest_hash(previous):
            message = f"digest ending at {last} does not follow the digest ending at {previous['last_seq']} "
            self.problem(f"{message}(its previous_digest_hash is not that digest's hash)", number, digest=last)

    def check_coverage(self) -> None:
        if not self.by_seq:
            return
        high = max(self.by_seq)
        if not self.digests:
            self.unproven.append(f"no event is signed: the file holds no digest ({span(min(self.by_seq), high)})")
        elif high > self.signed_to:
            gap = (self.signed_to + 1, high)
            self.unproven.append(
                f"{span(*gap)} {are(*gap)} not signed: newer than the newest digest (Protu signs new events hourly; "
                "an export made after the next digest proves them)"
            )

    def check_range(self) -> None:
        """The requested range is complete: nothing before its start, nor at its end, can be missing."""
        since, until = self.header["since"], self.header["until"]
        times = [(seq, e["time"]) for seq, (_, e) in sorted(self.by_seq.items()) if _stored(e.get("time"))]
        self.in_range = sum(1 for _, t in times if (since is None or since <= t) and t <= until)
        if not self.by_seq:
            self.unproven.append(f"the file holds no events, and no digest proves the company had none up to {until}")
            return
        first_seq = min(self.by_seq)
        first_time = self.by_seq[first_seq][1].get("time")
        if first_seq != 1 and not (since is not None and _stored(first_time) and first_time < since):
            self.unproven.append(
                f"the start of the range is not proved complete: the file begins at event {first_seq} "
                f"({shown(first_time)}), which is neither the company's first event nor before since ({since})"
            )
        signed = [t for seq, t in times if seq <= self.signed_to]
        if not (signed and signed[-1] > until):
            self.unproven.append(
                f"the end of the range is not proved complete: no signed event is after until ({until}), so events "
                "of the range written after the last signed one may be missing"
            )

    def result(self) -> dict:
        """Everything found, as --json prints it."""
        status = 1 if self.problems else 2 if self.unproven else 0
        header = self.header or {}
        events = [event for _, (_, event) in sorted(self.by_seq.items())]
        signed = [e for e in events if e["seq"] <= self.signed_to] if not self.problems else []
        return {
            "file": self.path,
            "ok": not self.problems,
            "proven": status == 0,
            "exit_status": status,
            "tenant": header.get("tenant"),
            "export_id": header.get("export_id"),
            "created_at": header.get("created_at"),
            "since": header.get("since"),
            "until": header.get("until"),
            "key": {"key_id": self.key_id, "fingerprint_sha256": fingerprint(self.key), "from": self.key_from}
            if self.key
            else None,
            "digests": {"count": len(self.digests), "signatures_verified": self.verified_signatures},
            "events": _extent(events),
            "verified_events": _extent(signed) if signed else None,
            "events_in_range": self.in_range if self.header else None,
            "problems": self.problems,
            "not_proven": self.unproven,
            "notes": self.notes,
        }


def _stored(value: object) -> bool:
    return isinstance(value, str) and STORED_TIME.fullmatch(value) is not None


def _extent(events: list[dict]) -> dict:
    times = [e["time"] for e in events if _stored(e.get("time"))]
    return {
        "count": len(events),
        "first_seq": events[0]["seq"] if events else None,
        "last_seq": events[-1]["seq"] if events else None,
        "first_time": min(times) if times else None,
        "last_time": max(times) if times else None,
    }


# ---------------------------------------------------------------------------------------------- output
def text_report(result: dict) -> str:
    """The result in plain words."""
    out = [f"Protu audit export {result['file']}"]
    if result["tenant"] is not None:
        out.append(
            f"  company:      {shown(result['tenant'])} (export {shown(result['export_id'])}, "
            f"created {shown(result['created_at'])})"
        )
        out.append(f"  requested:    since {result['since'] or '(the beginning)'} until {result['until']}")
    if result["key"]:
        key = result["key"]
        out.append(f"  key:          id {shown(key['key_id'])}, from {key['from']}")
        out.append(f"                SHA-256 fingerprint {key['fingerprint_sha256']}")
    if result["tenant"] is not None:
        out.extend(_proved(result))
    for title, items in (
        ("Problems (the file was altered, or is not a valid export):", [p["message"] for p in result["problems"]]),
        ("Not proved:", result["not_proven"]),
        ("Notes:", result["notes"]),
    ):
        if items:
            out += ["", title, *(f"  - {item}" for item in items[:SHOWN])]
            out += [f"  ... and {len(items) - SHOWN} more (--json lists them all)"] if len(items) > SHOWN else []
    out += ["", _verdict(result)]
    return "\n".join(out)


def _proved(result: dict) -> list[str]:
    events, digests, verified = result["events"], result["digests"], result["verified_events"]
    out = [f"  digests:      {digests['count']} in the file, {digests['signatures_verified']} signatures verify"]
    if events["count"]:
        out.append(
            f"  events:       {events['count']} in the file, seq {events['first_seq']}..{events['last_seq']}, "
            f"from {events['first_time']} to {events['last_time']}"
        )
    else:
        out.append("  events:       none in the file")
    if verified:
        out.append(
            f"  verified:     {verified['count']} events, seq {verified['first_seq']}..{verified['last_seq']}, "
            f"from {verified['first_time']} to {verified['last_time']}: hashes, links and signatures check"
        )
    out.append(f"  in the range: {result['events_in_range']} events between since and until")
    return out


def _verdict(result: dict) -> str:
    if result["exit_status"] == 0:
        return (
            "VERIFIED: every event in the file is signed by the key and unaltered, and no event of the "
            "requested range is missing. (exit status 0)"
        )
    if result["exit_status"] == 2:
        return (
            'NOT FULLY PROVED: nothing was found altered, but what is listed under "Not proved" is not '
            "established. (exit status 2)"
        )
    return (
        f"FAILED: the file was altered or is not a valid export ({len(result['problems'])} problem(s)). (exit status 1)"
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit status 2 means "not fully proved" here: usage errors are 1
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="verify_audit_export.py",
        description="Verify a Protu audit export (JSON Lines) offline; see the module's docstring or docs/audit.md.",
        epilog="Exit status: 0 everything proved; 1 altered or malformed; 2 nothing altered, not everything proved.",
    )
    parser.add_argument("export", help="the export file (.jsonl)")
    parser.add_argument(
        "--public-key",
        metavar="KEY",
        help="Protu's published key: PEM, or the JSON answer of GET /api/audit-events/public-key",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON result object instead of text")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        check = Check(args.export, args.public_key)
        check.run()
        result = check.result()
    except Exception as error:  # noqa: BLE001 - an auditor gets a message and exit status 1, never a traceback
        print(
            f"verify_audit_export.py: could not verify {args.export}: {type(error).__name__}: {error}", file=sys.stderr
        )
        return 1
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else text_report(result))
    return result["exit_status"]


if __name__ == "__main__":
    sys.exit(main())
