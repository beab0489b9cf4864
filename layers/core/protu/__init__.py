"""Protu's core: the code every function shares (the core layer)."""

import sys

# pyOpenSSL is in the layer for py_webauthn's attestation certificate chains only. When it is importable,
# botocore.httpsession imports urllib3.contrib.pyopenssl (and with it OpenSSL and most of cryptography's x509) just to
# name the standard library's SSLContext, which is what it then uses anyway: ~35 ms of every cold start, for
# nothing. A None entry makes that import fail, so botocore takes its own fallback (urllib3.util.ssl_.SSLContext).
# Nothing here uses urllib3's pyOpenSSL injection.
sys.modules.setdefault("urllib3.contrib.pyopenssl", None)  # type: ignore[arg-type]
