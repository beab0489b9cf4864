"""Security headers, defined once for the API, the webhooks and the SPA (local server and CloudFront alike)."""

from __future__ import annotations

# Two years, subdomains, preload: the browser never tries plain HTTP again.
HSTS = "max-age=63072000; includeSubDomains; preload"

# The SPA may load only its own files and talk only to its own origin; nothing may frame it.
SPA_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# API answers are data, never documents: they may load nothing and be framed by nobody.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

_COMMON = {
    "Strict-Transport-Security": HSTS,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

API_HEADERS = {**_COMMON, "Content-Security-Policy": API_CSP, "Cache-Control": "no-store"}
SPA_HEADERS = {**_COMMON, "Content-Security-Policy": SPA_CSP}
