"""A small software authenticator with its browser, for tests: the outside world of a passkey ceremony.

It holds EC P-256 (ES256) credentials, answers ``navigator.credentials.create()`` with a "none" attestation and
``navigator.credentials.get()`` with an assertion, as the browser's ``credential.toJSON()`` would send them:
``clientDataJSON`` (type, challenge, origin), ``authenticatorData`` (RP id hash, flags, sign counter, and at
registration the attested credential data with the COSE key) and an ECDSA signature over both. Each use advances
the counter; ``clone`` copies a credential with its counter as it was, as a copied authenticator would.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes(16)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


@dataclass
class Authenticator:
    """``origin``: the page the browser runs the ceremony on (the RP id is its host unless the options name one)."""

    origin: str
    user_verified: bool = True
    synced: bool = True  # backup eligible and backed up (a synced passkey)
    credentials: list[Credential] = field(default_factory=list)

    def _flags(self, extra: int = 0) -> int:
        return UP | (UV if self.user_verified else 0) | ((BE | BS) if self.synced else 0) | extra

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}).encode()

    def create(self, options: dict, *, rp_id: str | None = None) -> dict:
        """Answer creation options (``PublicKeyCredentialCreationOptionsJSON``) with a new credential."""
        rp_id = rp_id or options["rp"].get("id") or urlsplit(self.origin).hostname
        credential = Credential(
            os.urandom(32), ec.generate_private_key(ec.SECP256R1()), rp_id, unb64url(options["user"]["id"])
        )
        self.credentials.append(credential)
        attested = AAGUID + struct.pack(">H", len(credential.id)) + credential.id + credential.cose_key()
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags(AT)]) + struct.pack(">I", 0)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data + attested})
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(self._client_data("webauthn.create", options["challenge"])),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(self, options: dict, *, credential: Credential | None = None, rp_id: str | None = None) -> dict:
        """Answer request options (``PublicKeyCredentialRequestOptionsJSON``) with an assertion of ``credential``
        (by default the first one the options allow, or this authenticator's first)."""
        allowed = {unb64url(c["id"]) for c in options.get("allowCredentials") or []}
        credential = credential or next((c for c in self.credentials if not allowed or c.id in allowed), None)
        assert credential is not None, "no credential for these options"
        credential.counter += 1
        rp_id = rp_id or credential.rp_id
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags()]) + struct.pack(">I", credential.counter)
        )
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def clone(self) -> Authenticator:
        """A copy of this authenticator as it is now (keys and counters): its next use repeats a counter."""
        twin = Authenticator(self.origin, self.user_verified, self.synced)
        twin.credentials = [copy.copy(c) for c in self.credentials]
        return twin
