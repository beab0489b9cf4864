"""Field encryption throughput: warm encrypt+decrypt pairs per second for a ~2 KB assessment response.

Value: ``protu.crypto.encrypt_fields`` then ``decrypt_fields`` on one record, after the first call (key unwrapped
and cached, so no AWS call is in the loop). Baseline: ``cryptography``'s AES-GCM encrypt+decrypt of the same JSON
bytes with a fresh nonce, the floor any field encryption sits on. Budget (DESIGN.md): >= 1,000 pairs/s; the ratio
shows what the Encryption SDK's per-message work (data key, HKDF, commitment, wrapping, framing) costs on top.

Runs in its own in-process moto (a KMS key and the key table), restoring the environment afterwards.
"""

from __future__ import annotations

import json
import os
import time

from protu import caches

SECONDS_EACH = 0.6
TENANT = "bench-tenant"
ENTITY, RECORD = "response", "resp-0001"


def assessment_response() -> dict:
    """A realistic ~2 KB response: 14 answers with free-text comments, scores and a reviewer note."""
    answers = [
        {
            "question": f"q-{i:02d}",
            "choice": "agree" if i % 2 else "neutral",
            "seconds": 11 + i,
            "comment": f"When priorities conflict I usually talk to the team first (item {i}).",
        }
        for i in range(14)
    ]
    return {
        "answers": answers,
        "scores": {"openness": 0.62, "conscientiousness": 0.81, "agreeableness": 0.55, "stability": 0.47},
        "note": "Reviewer: strong planning, asked for flexible hours for a medical reason.",
    }


def _rate(pair) -> float:
    """Pairs per second over about SECONDS_EACH of wall time."""
    count, start = 0, time.perf_counter()
    deadline = start + SECONDS_EACH
    while True:
        for _ in range(50):
            pair()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _baseline(plaintext: bytes) -> float:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def pair() -> None:
        nonce = os.urandom(12)
        assert aead.decrypt(nonce, aead.encrypt(nonce, plaintext, b"context"), b"context") == plaintext

    return _rate(pair)


def _fields(fields: dict) -> float:
    from protu import crypto

    names = list(fields)

    def pair() -> None:
        blob = crypto.encrypt_fields(TENANT, ENTITY, RECORD, fields)
        assert crypto.decrypt_fields(TENANT, ENTITY, RECORD, blob, names) == fields

    pair()  # first call: creates the tenant key, unwraps it once, imports the SDK
    return _rate(pair)


def measure() -> list[dict]:
    import boto3
    from moto import mock_aws
    from protu import settings as protu_settings

    fields = assessment_response()
    plaintext = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    saved = {name: os.environ.get(name) for name in ("KEY_TABLE", "KMS_KEY_ID", "AWS_ENDPOINT_URL")}
    try:
        with mock_aws():
            os.environ.pop("AWS_ENDPOINT_URL", None)
            region = protu_settings.reload().region
            kms_key = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
            boto3.client("dynamodb", region_name=region).create_table(
                TableName="bench-keys",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            os.environ.update({"KEY_TABLE": "bench-keys", "KMS_KEY_ID": kms_key})
            protu_settings.reload()
            caches.reset()
            value = _fields(fields)
            baseline = _baseline(plaintext)
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        caches.reset()
        protu_settings.reload()
    return [
        {
            "name": f"field encrypt+decrypt, {len(plaintext)} B record",
            "value": value,
            "unit": "/s",
            "baseline": "raw AES-GCM encrypt+decrypt (cryptography), same bytes",
            "baseline_value": baseline,
            "budget": ">= 1,000 pairs/s",
        },
    ]


if __name__ == "__main__":
    for row in measure():
        print(row)
