"""The PynamoDB base of every data-table item: the table and region from settings, a string ``pk`` and ``sk``.

A model says only what its items hold (``class BillingState(DataItem): ...``); a model may give ``sk`` a default
by declaring it again.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from protu.store.base import SettingValue


class DataItem(Model):
    class Meta:
        table_name = SettingValue("data_table")
        region = SettingValue("region")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
