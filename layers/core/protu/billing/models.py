"""Billing items in the data table.

    pk T#<tenant>#BILLING       sk STATE        the company's subscription as Stripe last told us (and the customer)
    pk T#<tenant>#BILLING       sk M#<yyyy-mm>  usage in a calendar month (UTC): candidates created
    pk STRIPE#CUSTOMER#<cus_…>  sk CUSTOMER     which company a Stripe customer is (webhooks find the company so)
    pk STRIPE#EVENT#<evt_…>     sk EVENT        a processed Stripe event: a redelivery changes nothing (90 days)

The customer index and the event markers hold no company data (``protu.store.base.UNSCOPED_PREFIXES``).
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from protu.store.base import tenant_pk
from protu.store.items import DataItem

STATE_SK = "STATE"


class BillingState(DataItem):
    sk = UnicodeAttribute(range_key=True, default=STATE_SK)
    customer_id = UnicodeAttribute(null=True)
    subscription_id = UnicodeAttribute(null=True)
    plan = UnicodeAttribute(null=True)  # a paid plan's name, while a subscription exists
    status = UnicodeAttribute(null=True)  # Stripe's subscription status
    current_period_end = NumberAttribute(null=True)
    cancel_at_period_end = BooleanAttribute(default=False)
    stripe_updated = NumberAttribute(default=0)  # ``created`` of the newest subscription event applied
    payment_failed_at = NumberAttribute(null=True)  # the last invoice.payment_failed not followed by invoice.paid
    version = NumberAttribute(default=0)

    @staticmethod
    def key(tenant_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, "BILLING"), STATE_SK


class MonthlyUsage(DataItem):
    candidates = NumberAttribute(default=0)

    @staticmethod
    def key(tenant_id: str, month: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, "BILLING"), f"M#{month}"


class StripeCustomer(DataItem):
    sk = UnicodeAttribute(range_key=True, default="CUSTOMER")
    tenant_id = UnicodeAttribute()

    @staticmethod
    def key(customer_id: str) -> tuple[str, str]:
        return f"STRIPE#CUSTOMER#{customer_id}", "CUSTOMER"


class StripeEvent(DataItem):
    sk = UnicodeAttribute(range_key=True, default="EVENT")
    type = UnicodeAttribute()
    tenant_id = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute()
    processed_at = NumberAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(event_id: str) -> tuple[str, str]:
        return f"STRIPE#EVENT#{event_id}", "EVENT"
