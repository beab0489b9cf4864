"""DynamoDB access through PynamoDB: table names from settings, tenant-scoped keys.

Every company item's partition key begins with its tenant (``T#<tenant_id>#...``); ``tenant_pk`` is the only way
code builds such a key, so a data access cannot be written without a tenant scope. ``scope`` binds each request
to one company and signs its DynamoDB calls with that company's fenced role.
"""

from protu.store import scope
from protu.store.base import SettingValue, tenant_pk
from protu.store.tx import AuditRequired, Transaction, TransactionTooLarge

scope.install()

__all__ = ["AuditRequired", "SettingValue", "Transaction", "TransactionTooLarge", "tenant_pk"]
