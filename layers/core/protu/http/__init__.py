"""Chalice glue: the app class, endpoint declarations, security headers, one router per area."""
