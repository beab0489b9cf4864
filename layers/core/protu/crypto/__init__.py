"""Envelope encryption of sensitive fields under per-tenant keys, and erasure by destroying those keys.

KMS wraps each tenant's data keys (``keystore``); the AWS Encryption SDK encrypts a record's sensitive fields into
one message under the tenant's current key version (``fields``). A warm process reuses unwrapped keys from memory
and makes no KMS call. Importing this package is cheap: the SDK is imported on the first encrypt or decrypt.
"""

from protu.crypto.fields import decrypt_fields, encrypt_fields
from protu.crypto.keystore import destroy_tenant_key, ensure_tenant_key, rotate_tenant_key

__all__ = ["decrypt_fields", "destroy_tenant_key", "encrypt_fields", "ensure_tenant_key", "rotate_tenant_key"]
