"""Plans, subscriptions through Stripe, and the limits each plan sets."""
