"""The SPA's API: one Chalice app, every area's router installed on it (handler ``api.app``)."""

from protu.http import audit as audit_routes
from protu.http import audit_streams as audit_stream_routes
from protu.http import auth, billing, directory, health, incidents, notices, privacy, settings, status, users, welcome
from protu.http import passkeys as passkey_routes
from protu.http import security_reports as security_report_routes
from protu.http import sso as sso_routes
from protu.http.app import ProtuApp
from protu.http.authn import authorize
from protu.http.openapi import install_document_route
from protu.http.routing import install
from protu.observability import init_sentry

init_sentry("api")
app = ProtuApp("protu-api")
install(
    app,
    health.router,
    status.router,
    auth.router,
    passkey_routes.router,
    notices.router,
    welcome.router,
    users.router,
    directory.router,
    audit_routes.router,
    audit_stream_routes.router,
    billing.router,
    settings.router,
    sso_routes.router,
    privacy.router,
    security_report_routes.router,
    incidents.router,
    authorize=authorize,
)
install_document_route(app)  # last: GET /api/openapi.json describes every route above
