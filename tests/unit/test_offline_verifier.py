"""The offline verifier of a customer's audit export (``tools/verify_audit_export.py``, docs/audit.md), run as an
auditor runs it: a subprocess on a file. The exports are built here to the format's specification, with a P-256 key
made here signing the digests as KMS does (ECDSA SHA-256 over the digest's canonical JSON, DER); the events are
sealed by ``protu.audit.chain`` itself, so the verifier's own hashing is checked against the server's. No cloud.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from protu.audit.chain import canonical_json, genesis_hash, seal, stored_time

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "verify_audit_export.py"
TENANT = "acme0001"
KEY = ec.generate_private_key(ec.SECP256R1())  # stands in for the KMS key
OTHER = ec.generate_private_key(ec.SECP256R1())  # somebody else's
KEY_ID = "arn:aws:kms:eu-central-1:111122223333:key/0000-test"
START = datetime(2026, 12, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- building exports
def when(seq: int, seconds: int = 0) -> str:
    """Event ``seq`` happens ``seq`` minutes after START."""
    return stored_time(START + timedelta(minutes=seq, seconds=seconds))


def chain(count: int, tenant: str = TENANT) -> list[dict]:
    events, prev = [], genesis_hash(tenant)
    for seq in range(1, count + 1):
        fields = {
            "actor": f"user-{seq % 3}",
            "action": "employee.read",
            "target": f"employee:e{seq}",
            "outcome": "success",
            "details": {"records": [f"e{seq}"], "subjects": [f"p{seq}"]},
            "request_id": f"req-{seq}",
            "source_ip": "192.0.2.7",
        }
        events.append(seal(tenant, seq, prev, fields, time=when(seq)))
        prev = events[-1]["hash"]
    return events


def signed_bytes(digest: dict) -> bytes:
    return canonical_json({k: v for k, v in digest.items() if k != "signature"}).encode("utf-8")


def sign(digest: dict, key: ec.EllipticCurvePrivateKey = KEY) -> dict:
    digest = {k: v for k, v in digest.items() if k != "signature"}
    digest["signature"] = base64.b64encode(key.sign(signed_bytes(digest), ec.ECDSA(hashes.SHA256()))).decode()
    return digest


def digests(events: list[dict], ends: tuple[int, ...], key: ec.EllipticCurvePrivateKey = KEY) -> list[dict]:
    """A digest per segment ending at each of ``ends``, made five minutes after its last event."""
    found, previous, first = [], None, 1
    for end in ends:
        digest = {
            "version": 1,
            "tenant": events[end - 1]["tenant"],
            "first_seq": first,
            "last_seq": end,
            "last_hash": events[end - 1]["hash"],
            "previous_digest_hash": hashlib.sha256(signed_bytes(previous)).hexdigest() if previous else None,
            "time": (START + timedelta(minutes=end + 5)).isoformat(timespec="seconds"),
            "key_id": KEY_ID,
            "algorithm": "ECDSA_SHA_256",
        }
        previous = sign(digest, key)
        found.append(previous)
        first = end + 1
    return found


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def export(events: list[dict], signed: list[dict], *, since: str | None, until: str, key=KEY) -> list[dict]:
    header = {
        "type": "header",
        "format": "protu-audit-export",
        "version": 1,
        "tenant": TENANT,
        "export_id": "exp-0001",
        "created_at": "2026-12-02T09:00:00Z",
        "since": since,
        "until": until,
        "first_seq": events[0]["seq"] if events else 0,
        "last_seq": events[-1]["seq"] if events else 0,
        "public_key": {"key_id": KEY_ID, "algorithm": "ECDSA_SHA_256", "public_key_pem": pem(key)},
    }
    return [
        header,
        *({"type": "event", "event": e} for e in events),
        *({"type": "digest", "digest": d} for d in signed),
    ]


def usual() -> list[dict]:
    """What the server exports for since = 00:25:30 and until = 00:45:30 when segments end at 20, 40 and 60: the
    segment holding event 25 (the last before since) to the one holding event 46 (the first after until), so
    events 21..60 (line 2 is event 21: event ``seq`` is on line ``seq - 19``) and the digests ending at 40 and 60."""
    events = chain(60)
    signed = digests(events, (20, 40, 60))
    return export(events[20:], signed[1:], since=when(25, 30), until=when(45, 30))


def whole(count: int = 60, ends: tuple[int, ...] = (20, 40, 60), until: str | None = None) -> list[dict]:
    """Every event from the first (event ``seq`` on line ``seq + 1``)."""
    events = chain(count)
    return export(events, digests(events, ends), since=None, until=until or when(ends[-1] - 1, 30))


def write(tmp_path: Path, lines: list[dict], name: str = "export.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines), encoding="utf-8")
    return path


def key_file(tmp_path: Path, key: ec.EllipticCurvePrivateKey = KEY) -> Path:
    path = tmp_path / "protu-audit.pem"
    path.write_text(pem(key))
    return path


def verify(path: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(TOOL), str(path), *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def verify_with_key(tmp_path: Path, lines: list[dict], *args: str) -> subprocess.CompletedProcess:
    return verify(write(tmp_path, lines), "--public-key", str(key_file(tmp_path)), *args)


# ---------------------------------------------------------------------------------------------- a single file
def test_the_verifier_imports_only_the_standard_library_and_cryptography():
    """An auditor needs nothing but Python and ``cryptography``: every import of the file, at any depth."""
    imported = set()
    for node in ast.walk(ast.parse(TOOL.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import"
            imported.add(node.module.split(".")[0])
    assert "cryptography" in imported
    assert imported - {"cryptography", "__future__"} <= sys.stdlib_module_names, imported


# ---------------------------------------------------------------------------------------------- a valid export
def test_a_valid_export_is_proved_with_the_published_key(tmp_path):
    done = verify_with_key(tmp_path, usual())

    assert done.returncode == 0, done.stdout
    out = done.stdout
    assert f'id "{KEY_ID}"' in out and f"SHA-256 fingerprint {fingerprint(KEY)}" in out
    assert "2 in the file, 2 signatures verify" in out
    assert f"40 events, seq 21..60, from {when(21)} to {when(60)}" in out
    assert "20 events between since and until" in out  # events 26..45
    assert "VERIFIED" in out and "Problems" not in out and "Not proved" not in out


def test_without_the_public_key_the_export_proves_only_itself(tmp_path):
    done = verify(write(tmp_path, usual()))

    assert done.returncode == 2, done.stdout
    assert "no --public-key given" in done.stdout and "the key inside the export" in done.stdout
    assert fingerprint(KEY) in done.stdout
    assert "NOT FULLY PROVED" in done.stdout


def test_the_json_answer_of_the_public_key_endpoint_is_a_key_file_too(tmp_path):
    answer = tmp_path / "public-key.json"
    answer.write_text(json.dumps({"key_id": KEY_ID, "algorithm": "ECDSA_SHA_256", "public_key_pem": pem(KEY)}))

    done = verify(write(tmp_path, usual()), "--public-key", str(answer))

    assert done.returncode == 0, done.stdout


def test_json_output_says_what_was_proved(tmp_path):
    done = verify_with_key(tmp_path, usual(), "--json")

    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert result["ok"] is True and result["proven"] is True and result["exit_status"] == 0
    assert result["problems"] == [] and result["not_proven"] == []
    assert result["key"]["fingerprint_sha256"] == fingerprint(KEY) and result["key"]["key_id"] == KEY_ID
    assert result["digests"] == {"count": 2, "signatures_verified": 2}
    assert result["verified_events"] == {
        "count": 40,
        "first_seq": 21,
        "last_seq": 60,
        "first_time": when(21),
        "last_time": when(60),
    }
    assert result["events_in_range"] == 20 and result["tenant"] == TENANT


def test_an_export_of_a_company_from_its_first_event_is_proved(tmp_path):
    done = verify_with_key(tmp_path, whole())

    assert done.returncode == 0, done.stdout
    assert "60 events, seq 1..60" in done.stdout


def test_non_ascii_text_written_as_utf8_verifies(tmp_path):
    """The server writes its lines with ``ensure_ascii=False``; the hashes are over the escaped canonical form."""
    events, prev = [], genesis_hash(TENANT)
    for seq, name in enumerate(("Zoë Ångström", "名前", "emoji \U0001f600"), 1):
        fields = {"actor": name, "action": "employee.update", "target": "employee:é", "outcome": "success"}
        fields |= {"details": {"name": name}, "request_id": None, "source_ip": None}
        events.append(seal(TENANT, seq, prev, fields, time=when(seq)))
        prev = events[-1]["hash"]
    lines = export(events, digests(events, (3,)), since=None, until=when(2))
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n" for line in lines), "utf-8")

    done = verify(path, "--public-key", str(key_file(tmp_path)))

    assert done.returncode == 0, done.stdout


# ---------------------------------------------------------------------------------------------- tampering: exit 1
def test_one_byte_changed_inside_an_event_is_named(tmp_path):
    path = write(tmp_path, usual())
    lines = path.read_bytes().split(b"\n")
    assert b'"actor": "user-0"' in lines[22] and b'"seq": 42' in lines[22]  # line 23: event 42
    lines[22] = lines[22].replace(b'"actor": "user-0"', b'"actor": "user-9"')
    path.write_bytes(b"\n".join(lines))

    done = verify(path, "--public-key", str(key_file(tmp_path)))

    assert done.returncode == 1, done.stdout
    assert "line 23: event 42: its hash does not match its contents" in done.stdout
    assert "FAILED" in done.stdout


def test_an_edited_event_whose_hash_was_recomputed_breaks_the_next_link(tmp_path):
    lines = usual()
    event = lines[22]["event"]
    event["actor"] = "user-9"
    event["hash"] = hashlib.sha256(canonical_json({k: v for k, v in event.items() if k != "hash"}).encode()).hexdigest()

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1
    assert "line 24: event 43 does not link to event 42" in done.stdout


def test_a_removed_event_is_named(tmp_path):
    lines = usual()
    del lines[23]  # event 43

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1, done.stdout
    assert "event 43 is missing (event 44 follows 42)" in done.stdout


def test_events_removed_from_the_end_of_the_file_are_named(tmp_path):
    lines = usual()
    del lines[39:41]  # events 59 and 60, the digests left

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1
    assert "events 59..60 are missing (the header says it ends at 60" in done.stdout
    assert "digest ending at 60: event 60, whose hash it signs, is not in the file" in done.stdout


@pytest.mark.parametrize(
    ("removed", "named"),
    [
        (1, "digest ending at 40 is missing: events 21..40 are not signed"),
        (0, "digest ending at 20 is missing: events 1..20 are not signed"),
    ],
)
def test_a_removed_digest_is_named(tmp_path, removed, named):
    lines = whole()
    del lines[61 + removed]  # the digests are on lines 62, 63, 64

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1, done.stdout
    assert named in done.stdout


def test_a_digest_signed_by_another_key_is_named(tmp_path):
    lines = usual()
    lines[41]["digest"] = sign(lines[41]["digest"], OTHER)  # the digest ending at 40

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1, done.stdout
    assert "line 42: digest ending at 40: the signature does not verify with the key" in done.stdout
    assert "digest ending at 60: the signature" not in done.stdout


def test_a_validly_signed_digest_from_another_history_is_named(tmp_path):
    lines = usual()
    lines[42]["digest"] = sign({**lines[42]["digest"], "previous_digest_hash": "0" * 64})  # ending at 60

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1, done.stdout
    assert (
        "line 43: digest ending at 60 does not follow the digest ending at 40 (its previous_digest_hash is not that "
        "digest's hash)"
    ) in done.stdout


def test_the_wrong_public_key_fails_every_digest(tmp_path):
    done = verify(write(tmp_path, usual()), "--public-key", str(key_file(tmp_path, OTHER)))

    assert done.returncode == 1, done.stdout
    assert "digest ending at 40: the signature does not verify with the key" in done.stdout
    assert "digest ending at 60: the signature does not verify with the key" in done.stdout
    assert f"the export's header holds another key (fingerprint {fingerprint(KEY)})" in done.stdout


def test_an_export_resigned_by_an_impostor_fails_with_the_published_key(tmp_path):
    events = chain(60)
    forged = export(events, digests(events, (20, 40, 60), key=OTHER), since=None, until=when(59), key=OTHER)

    with_key = verify_with_key(tmp_path, forged)
    alone = verify(write(tmp_path, forged))

    assert with_key.returncode == 1 and "the signature does not verify with the key" in with_key.stdout
    assert alone.returncode == 2 and fingerprint(OTHER) in alone.stdout  # not the fingerprint Protu publishes


def test_an_event_of_another_company_is_named(tmp_path):
    lines = usual()
    lines[10]["event"] = chain(30, tenant="globex01")[29]  # line 11: event 30, as another company's chain has it

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1, done.stdout
    assert 'line 11: event 30 belongs to company "globex01", not "acme0001"' in done.stdout


def test_an_export_passed_off_as_another_companys_is_named(tmp_path):
    lines = usual()
    lines[0]["tenant"] = "globex01"

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1
    assert 'digest ending at 40: it names company "acme0001", not "globex01"' in done.stdout
    assert 'event 21 belongs to company "acme0001", not "globex01"' in done.stdout


def test_an_event_deleted_and_the_rest_rehashed_is_caught_by_the_signed_hash(tmp_path):
    """The chain links again after the deletion (every later event re-sealed), but not to what the digests signed."""
    original = chain(60)
    signed = digests(original, (20, 40, 60))
    events, prev = original[:29], original[28]["hash"]
    for old in original[30:]:  # event 30 deleted, 31..60 renumbered 30..59 and re-sealed
        fields = {k: old[k] for k in ("actor", "action", "target", "outcome", "details", "request_id", "source_ip")}
        events.append(seal(TENANT, old["seq"] - 1, prev, fields, time=old["time"]))
        prev = events[-1]["hash"]

    done = verify_with_key(tmp_path, export(events, signed, since=None, until=when(58)))

    assert done.returncode == 1, done.stdout
    assert "does not match its contents" not in done.stdout and "does not link" not in done.stdout
    assert "digest ending at 20: " not in done.stdout
    assert (
        "digest ending at 40: the hash it signs for event 40 is not the hash of event 40 in the file (line 41): "
        "the events up to 40 are not the ones that were signed"
    ) in done.stdout
    assert "digest ending at 60: event 60, whose hash it signs, is not in the file" in done.stdout


def test_json_output_lists_each_problem_with_its_line_and_event(tmp_path):
    lines = usual()
    lines[22]["event"]["target"] = "employee:e1"  # event 42, line 23

    done = verify_with_key(tmp_path, lines, "--json")

    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["ok"] is False and result["proven"] is False and result["verified_events"] is None
    assert {
        "line": 23,
        "seq": 42,
        "digest": None,
        "message": "line 23: event 42: its hash does not match its contents",
    } in (result["problems"])


# ---------------------------------------------------------------------------------------------- not proved: exit 2
def test_events_newer_than_the_newest_digest_are_not_proved(tmp_path):
    lines = whole(65, until=when(58, 30))  # events 61..65 after the digest ending at 60

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 2, done.stdout
    assert "events 61..65 are not signed: newer than the newest digest" in done.stdout
    assert "end of the range" not in done.stdout  # event 59, signed, is after until
    assert "58 events between since and until" in done.stdout


def test_a_range_whose_end_no_digest_reaches_is_not_proved_complete(tmp_path):
    lines = whole(until=stored_time(START + timedelta(days=1)))  # the newest digest: 01:05, until: the next day

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 2, done.stdout
    assert "the end of the range is not proved complete: no signed event is after until" in done.stdout


def test_a_digest_made_after_until_does_not_prove_the_end_of_the_range(tmp_path):
    """A digest signs the events its job found copied, not every event written before it was made: only a signed
    event after ``until`` shows that nothing of the range is missing at its end."""
    lines = whole(until=when(60, 30))  # no event after until, though the digest ending at 60 was made at 01:05

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 2, done.stdout
    assert "no signed event is after until" in done.stdout


def test_a_file_that_starts_after_since_is_not_proved_complete(tmp_path):
    lines = usual()
    lines[0]["since"] = when(20)  # event 21, the file's first, is not before it

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 2, done.stdout
    assert "the start of the range is not proved complete: the file begins at event 21" in done.stdout


def test_an_export_without_events_proves_nothing_about_the_range(tmp_path):
    done = verify_with_key(tmp_path, export([], [], since=None, until=when(0)))

    assert done.returncode == 2, done.stdout
    assert "none in the file" in done.stdout
    assert "the file holds no events, and no digest proves the company had none" in done.stdout


# ---------------------------------------------------------------------------------------------- malformed: exit 1
def test_a_truncated_file_is_named_without_a_traceback(tmp_path):
    path = write(tmp_path, usual())
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b'"seq": 30') + 5])  # cut inside event 30

    done = verify(path, "--public-key", str(key_file(tmp_path)))

    assert done.returncode == 1, done.stdout
    assert "line 11: not JSON" in done.stdout and "was the file cut short?" in done.stdout
    assert "events 30..60 are missing" in done.stdout


def test_a_non_utf8_byte_is_named(tmp_path):
    path = write(tmp_path, usual())
    path.write_bytes(path.read_bytes().replace(b'"actor": "user-0"', b'"actor": "user-\xff"', 1))

    done = verify(path, "--public-key", str(key_file(tmp_path)))

    assert done.returncode == 1, done.stdout
    assert "line 2: not UTF-8 text (byte 0xff at column" in done.stdout  # event 21, the first actor user-0
    assert "event 21 is missing" in done.stdout and "digest ending at 40 begins" not in done.stdout


def test_an_empty_file_is_named(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"")

    done = verify(path)

    assert done.returncode == 1
    assert "the file is empty" in done.stdout


def test_a_missing_file_and_a_bad_command_line_are_errors_not_verdicts(tmp_path):
    missing = verify(tmp_path / "nothing.jsonl")
    no_argument = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, timeout=60)
    not_a_key = verify(write(tmp_path, usual()), "--public-key", str(write(tmp_path, usual(), "other.jsonl")))

    assert missing.returncode == 1 and "cannot read" in missing.stdout
    assert no_argument.returncode == 1 and "usage" in no_argument.stderr
    assert not_a_key.returncode == 1 and "the key given with --public-key" in not_a_key.stdout


HEADER = json.dumps(usual()[0], sort_keys=True).encode()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"hello\n", "line 1: not JSON"),
        (b"\x00\x01\x02\x03", "line 1: not JSON"),
        (b"\n", "line 1: an empty line"),
        (b"[1, 2]\n", "line 1: not a JSON object"),
        (b'{"type": "header"}\n', 'header: "format" is missing'),
        (b'{"type": "event"}\n', "the first line is not the export's header"),
        (b"[" * 100_000 + b"\n", "line 1: not JSON"),
        (HEADER.replace(b'"last_seq": 60', b'"last_seq": "60"') + b"\n", 'header: "last_seq" must be an integer'),
        (HEADER.replace(b'"version": 1', b'"version": true') + b"\n", 'header: "version" must be an integer'),
        (HEADER.replace(b"-----BEGIN", b"-----BEGIN-") + b"\n", "header: the public key is not a PEM public key"),
        (HEADER.replace(b'"until": "', b'"until": "x') + b"\n", "header: until"),
        (HEADER + b'\n{"type": "event", "event": {"seq": 21}}\n', 'line 2: event 21: "actor" is missing'),
        (HEADER + b'\n{"type": "event", "event": {"seq": 1, "seq": 2}}\n', 'line 2: not JSON: the field "seq" appears'),
        (HEADER + b'\n{"type": "event", "event": {"seq": NaN}}\n', "line 2: not JSON: NaN is not a JSON value"),
        (HEADER + b'\n{"type": "event", "event": {"seq": 1e999}}\n', "line 2: not JSON: the number 1e999"),
        (HEADER + b'\n{"type": "event", "event": {"seq": "\\ud800"}}\n', "line 2: not JSON text"),
        (HEADER + b'\n{"type": "digest", "digest": []}\n', 'line 2: digest: "digest" must be an object'),
        (HEADER + b'\n{"type": "digest", "digest": {}}\n', 'line 2: digest: "version" is missing'),
        (HEADER + b'\n{"type": "event", "event": {}}\n', 'line 2: event ?: "seq" is missing'),
        (HEADER + b'\n{"type": "event"}\n', 'line 2: event ?: "event" is missing'),
        (HEADER + b'\n{"type": "note"}\n', 'line 2: a line of unknown type "note"'),
    ],
)
def test_malformed_input_is_named_without_a_traceback(tmp_path, data, named):
    path = tmp_path / "export.jsonl"
    path.write_bytes(data)

    done = verify(path, "--public-key", str(key_file(tmp_path)))

    assert done.returncode == 1, done.stdout
    assert named in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("line", "change", "named"),
    [
        (22, lambda d: d.update(seq="42"), 'line 23: event ?: "seq" must be an integer'),
        (22, lambda d: d.update(details=None), 'line 23: event 42: "details" must be an object'),
        (22, lambda d: d.update(note="approved"), 'line 23: event 42: unexpected field "note"'),
        (22, lambda d: d.update(time="2026-12-01T00:42:00Z"), "line 23: event 42: its time"),
        (41, lambda d: d.update(last_seq=40.0), 'line 42: digest: "last_seq" must be an integer'),
        (41, lambda d: d.pop("signature"), 'line 42: digest ending at 40: "signature" is missing'),
        (41, lambda d: d.update(signature="not base64!"), "digest ending at 40: the signature does not verify"),
        (41, lambda d: d.update(previous_digest_hash=None), "previous_digest_hash must be null exactly when"),
    ],
)
def test_missing_fields_and_wrong_types_are_named(tmp_path, line, change, named):
    lines = usual()
    change(lines[line]["event" if "event" in lines[line] else "digest"])

    done = verify_with_key(tmp_path, lines)

    assert done.returncode == 1, done.stdout
    assert named in done.stdout, done.stdout
