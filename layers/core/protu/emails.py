"""Email addresses as Protu keys them: one rule for every place an address is a key.

The accounts' ``EMAIL#`` index (``protu.identity.accounts.normalise_email``), the suppression list and the sent
message records (``protu.mail.suppression``, ``protu.mail.records``) key an address by ``normalise``, so
``" Ana@Example.com"`` and ``"ana@example.com"`` are one account, one suppression entry, one recipient.

This module imports nothing: identity and mail both sit above it, so the mail package never reaches up into the
accounts for the rule (and the API's cold start, which loads the accounts, does not load the mail client).
"""

from __future__ import annotations


def normalise(email: str) -> str:
    """The address as a key: surrounding whitespace removed, case folded."""
    return email.strip().casefold()
