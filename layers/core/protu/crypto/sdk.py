"""The AWS Encryption SDK side of field encryption: one client, and a key provider backed by the key store.

This module imports the SDK at module level, so nothing imports it at module level: ``protu.crypto.fields``
imports it inside the functions that encrypt or decrypt, and a function that never touches sensitive fields never
pays for the SDK (~0.35x of the API's baseline cold start).

Wrapping keys are raw AES-256 master keys, one per tenant key version (``RawMasterKey`` through a
``RawMasterKeyProvider``), not the Material Providers library's keyrings, whose import alone costs ~1.6 s.
"""

from __future__ import annotations

import logging
import re
from functools import cache

import attr
from aws_encryption_sdk import CommitmentPolicy, EncryptionSDKClient
from aws_encryption_sdk.exceptions import DecryptKeyError, InvalidKeyIdError
from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.base import MasterKeyProviderConfig
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider

from protu.crypto import keystore

#: Committing (key commitment) and without signatures: the reader and the writer are the same service, so
#: signatures would only add cost; commitment stops one ciphertext from decrypting to two plaintexts.
ALGORITHM = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
PROVIDER_ID = "protu-tenant-key"
_WRAPPING = WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING
# A raw master key's key info is the key id followed by binary (tag length, IV length, IV); a key id ends in digits
# and the binary part starts with a zero byte, so this finds the key id. The SDK then checks the exact layout.
_KEY_ID = re.compile(rb"\A[a-z0-9][a-z0-9-]{2,63}#(?:v[1-9][0-9]{0,8}|s\.[a-z]{2,8}-[0-9a-f]{20})")


class _DropCloseNoise(logging.Filter):
    """The SDK logs "Error on closing" with a traceback at ERROR whenever a message fails to decrypt, though the
    failure itself is raised to us. A rejected ciphertext is an expected outcome we report ourselves, not an error
    log line (nor a Sentry event) per attempt."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Error on closing"


logging.getLogger("aws_encryption_sdk.streaming_client").addFilter(_DropCloseNoise())


@attr.s(hash=True)
class _Config(MasterKeyProviderConfig):
    tenant_id = attr.ib(validator=attr.validators.instance_of(str))


class TenantKeyProvider(RawMasterKeyProvider):
    """The master keys of one tenant: ``<tenant>#v<N>`` resolves to that tenant's key version N.

    Made per message (it is cheap; the key store caches the keys), so it holds no key after the call and a
    destroyed key cannot linger here. It refuses key ids of other tenants before touching the key store.
    """

    provider_id = PROVIDER_ID
    _config_class = _Config

    def _get_raw_key(self, key_id: bytes) -> WrappingKey:
        try:
            text = key_id.decode("ascii")
            if "#s." in text:
                tenant_id, subject = keystore.parse_subject_key_id(text)
                key = lambda: keystore.subject_key(tenant_id, subject, create=False)  # noqa: E731
            else:
                tenant_id, version = keystore.parse_key_id(text)
                key = lambda: keystore.tenant_key(tenant_id, version)  # noqa: E731
        except (UnicodeDecodeError, ValueError):
            raise InvalidKeyIdError("unknown key id") from None
        if tenant_id != self.config.tenant_id:
            raise InvalidKeyIdError("key of another tenant")
        return WrappingKey(
            wrapping_algorithm=_WRAPPING, wrapping_key=key(), wrapping_key_type=EncryptionKeyType.SYMMETRIC
        )

    def decrypt_data_key(self, encrypted_data_key, algorithm, encryption_context):
        """Load the master key the message names, then let the SDK decrypt with it.

        A raw provider cannot vend master keys from a message's key info by itself (the key info carries an IV
        after the key id), so we add the named key first.
        """
        found = _KEY_ID.match(encrypted_data_key.key_provider.key_info)
        if encrypted_data_key.key_provider.provider_id != PROVIDER_ID or found is None:
            raise DecryptKeyError("not a tenant key")
        try:
            self.add_master_key(found.group(0))
        except InvalidKeyIdError:
            raise DecryptKeyError("not this tenant's key") from None
        return super().decrypt_data_key(encrypted_data_key, algorithm, encryption_context)


@cache
def client() -> EncryptionSDKClient:
    """One client per process; ``max_encrypted_data_keys=1`` because our messages have exactly one."""
    return EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT, max_encrypted_data_keys=1
    )


def encrypt(tenant_id: str, plaintext: bytes, context: dict[str, str], subject: str | None = None) -> bytes:
    """One message under the tenant's current key version, or under one person's key when ``subject`` is given."""
    provider = TenantKeyProvider(tenant_id=tenant_id)
    if subject is None:
        provider.add_master_key(keystore.key_id(tenant_id, keystore.ensure_tenant_key(tenant_id)))
    else:
        # Made (and cached) on first use; wrapped again under the tenant's current version if a rotation came since.
        keystore.subject_key(tenant_id, subject, rewrap=True)
        provider.add_master_key(keystore.subject_key_id(tenant_id, subject))
    ciphertext, _header = client().encrypt(
        source=plaintext, key_provider=provider, encryption_context=context, algorithm=ALGORITHM
    )
    return ciphertext


def wrapping_key_id(message: bytes) -> str | None:
    """The key id (``<tenant>#v<N>`` or ``<tenant>#s.<subject>``) a message of ours names, read from its header
    without decrypting; None for anything that is not such a message."""
    # cold start: loaded on first use
    import io

    from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header

    try:
        header, _ = deserialize_header(io.BytesIO(bytes(message)), max_encrypted_data_keys=1)
        (key,) = header.encrypted_data_keys
    except Exception:  # noqa: BLE001 -- whatever the parser of untrusted bytes raises means "not one of ours"
        return None
    found = _KEY_ID.match(key.key_provider.key_info) if key.key_provider.provider_id == PROVIDER_ID else None
    return found.group(0).decode("ascii") if found else None


def decrypt(tenant_id: str, message: bytes) -> tuple[bytes, dict[str, str]]:
    """Plaintext and encryption context of a message under one of the tenant's key versions.

    Raises the SDK's errors for anything that does not authenticate; the caller checks the context.
    """
    plaintext, header = client().decrypt(source=message, key_provider=TenantKeyProvider(tenant_id=tenant_id))
    if header.algorithm is not ALGORITHM:
        raise DecryptKeyError("unexpected algorithm suite")
    return plaintext, dict(header.encryption_context)
