"""DynamoDB access through PynamoDB: table names from settings, tenant-scoped keys.

Every company item's partition key begins with its tenant (``T#<tenant_id>#...``); ``tenant_pk`` is the only way
code builds such a key, so a data access cannot be written without a tenant scope. ``scope`` binds each request
to one company and signs its DynamoDB calls with that company's fenced role; ``dynamo`` holds the connection of
multi-item transactions and the reading of a refused write.

Layers: ``scope``, ``base``, ``dynamo`` and ``items`` are below ``protu.audit``; ``tx`` (the unit of work, data writes
and their audit events in one transaction) is above it, so this package does not import it: ``from protu.store.tx
import Transaction``.
"""

from protu.store import scope
from protu.store.base import SettingValue, tenant_pk

scope.install()

__all__ = ["SettingValue", "tenant_pk"]
