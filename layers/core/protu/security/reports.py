"""Vulnerability reports from outside: the intake behind the public security page's "Report a Security Issue".

The page asks for a description, steps to reproduce, the potential impact and the reporter's contact, and promises
an acknowledgement within 24 hours. ``submit`` keeps that promise at once: it stores the report, raises the signal
``security.report_received`` (which the incident detector turns into a Low incident) and emails the reporter an
acknowledgement with the report's reference.

Layout (data table; ``REPORT#`` is one of ``protu.store.base.UNSCOPED_PREFIXES``: a report belongs to no company)::

    pk "REPORT#<id>"   sk "REPORT"
    id ("rep-<16 hex>"), received_at (epoch s), status "received", description, steps_to_reproduce?, impact?,
    contact (the address as given), name?, source_ip, user_agent, acknowledgement "pending" | "sent" | "withheld",
    acknowledged_at?, record_type "security_report"

Confidentiality: the report's text and the reporter's address are kept in the item only (the table is encrypted
with the data key). They are never logged, never put in the signal (whose details are logged and kept for a year)
and never echoed in an error: log lines and the signal name the report by its id.

Rules:

* Anybody may report (no account), at most ``LIMIT`` reports per ``WINDOW_SECONDS`` from one source address (an
  IPv6 address counts as its /64, as the sign-in limits count it): ``RateLimited`` ``too_many_reports`` with
  ``Retry-After``. Refused input is not counted.
* A report is never written inside a tenant scope (``protu.store.scope``): a request that named a company is not
  where anonymous intake happens, and its credentials (``TenantDataRole``) could not write ``REPORT#`` anyway.
* The acknowledgement must not fail the report: when Mailgun is down or refuses it, or the address is on the
  suppression list, the report is kept with ``acknowledgement: "pending"`` (the security team acknowledges those by
  hand within the 24 hours) and the answer says so.
* At most ``ACK_LIMIT`` acknowledgements a day go to one mailbox (``_mailbox``: case, a ``+tag`` and Gmail's dots
  do not make another one), whatever the source addresses: the per-address limit alone let anybody with many
  addresses have Protu mail-bomb a stranger who never asked for anything. Beyond it the report is still accepted
  and kept (a real reporter never loses one), with ``acknowledgement: "withheld"`` (nothing to do by hand: that
  mailbox has had its acknowledgements today), and the answer is ``"sent"``, the one any report gets: a different
  answer would tell anybody who submits a report whether someone else reported from that address today. The
  reporter has the reference on screen.
* No audit event: there is no company whose chain it would belong to. The stored report and the signal are the
  record.

Keeping the reporter informed (the page promises progress and credit):

* A report's ``status`` moves ``received`` -> ``triaging`` -> ``confirmed`` -> ``fixed``, or to
  ``not_a_vulnerability`` (``MOVES``; reopened to ``triaging`` if that was wrong), by an operator (``protu-ops
  reports move``), each move kept in ``history`` with its time and note. Each move emails the reporter in plain
  words with the reference (``security_report_status``), whatever the acknowledgement limit: an operator decided it.
* At ``fixed``, a reporter who gave a ``name`` gets a link (single-use, 30 days, stored as its SHA-256 only) that
  confirms the credit; only then is the name listed on the public acknowledgements page (``thanks()``, newest
  first, name and month only). Somebody who used another person's address cannot get a name published: the link
  goes to the address, and nothing is listed without it.
* ``REPORT#INDEX`` lists reports for operators (``listing()``) without a scan: one entry per report, its status
  kept in step by ``move``.
"""

from __future__ import annotations

import secrets
import time

import msgspec
from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from protu import errors
from protu.logging import get_logger
from protu.security import ratelimit, signals
from protu.security.addresses import address_key
from protu.store import scope
from protu.store.items import DataItem

LIMIT = 5
WINDOW_SECONDS = 3600
RATE_SCOPE = "security-report"
ACK_LIMIT = 3  # acknowledgements a day to one mailbox
ACK_WINDOW_SECONDS = 86400
ACK_SCOPE = "security-report-ack"
GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}  # where dots in the local part are ignored, too
SIGNAL = "security.report_received"
TEMPLATE = "security_report_received"
RECORD_TYPE = "security_report"

MAX_DESCRIPTION = 10_000
MAX_TEXT = 5_000  # steps to reproduce, impact
MAX_NAME = 200

MESSAGE = "Too many reports from your network. Try again later, or email security@protu.io."

STATUSES = ("received", "triaging", "confirmed", "fixed", "not_a_vulnerability")
MOVES = {
    "received": ("triaging", "confirmed", "not_a_vulnerability"),
    "triaging": ("confirmed", "not_a_vulnerability"),
    "confirmed": ("fixed",),
    "not_a_vulnerability": ("triaging",),
    "fixed": (),
}
STATUS_TEMPLATE = "security_report_status"
MAX_NOTE = 2000
CREDIT_SECONDS = 30 * 86400
THANKS_LIMIT = 500

log = get_logger(__name__)


class SecurityReport(DataItem):
    """One report (see the module doc for the layout)."""

    sk = UnicodeAttribute(range_key=True, default="REPORT")
    id = UnicodeAttribute()
    received_at = NumberAttribute()
    status = UnicodeAttribute(default="received")
    description = UnicodeAttribute()
    steps_to_reproduce = UnicodeAttribute(null=True)
    impact = UnicodeAttribute(null=True)
    contact = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    acknowledgement = UnicodeAttribute(default="pending")
    acknowledged_at = NumberAttribute(null=True)
    record_type = UnicodeAttribute(default=RECORD_TYPE)
    history = ListAttribute(of=MapAttribute, null=True)  # [{status, at, note?}], oldest first
    fixed_at = NumberAttribute(null=True)
    credit = UnicodeAttribute(null=True)  # "offered" (the link went out) | "confirmed" (listed)

    @staticmethod
    def key(report_id: str) -> tuple[str, str]:
        return f"REPORT#{report_id}", "REPORT"


class ReportEntry(DataItem):
    """A report in the operators' list: ``REPORT#INDEX`` / ``<received_at>#<id>``."""

    id = UnicodeAttribute()
    status = UnicodeAttribute()
    received_at = NumberAttribute()

    @staticmethod
    def key(received_at: int, report_id: str) -> tuple[str, str]:
        return "REPORT#INDEX", f"{int(received_at):012d}#{report_id}"


class CreditLink(DataItem):
    """The credit confirmation link of a fixed report, by the SHA-256 of its token: ``REPORT#CREDIT#<hash>``."""

    report_id = UnicodeAttribute()
    expires_at = NumberAttribute()  # TTL

    @staticmethod
    def key(token_hash: str) -> tuple[str, str]:
        return f"REPORT#CREDIT#{token_hash}", "CREDIT"


class Credit(DataItem):
    """A name on the public acknowledgements page: ``REPORT#THANKS`` / ``<fixed_at>#<report id>``."""

    name = UnicodeAttribute()
    fixed_at = NumberAttribute()

    @staticmethod
    def key(fixed_at: int, report_id: str) -> tuple[str, str]:
        return "REPORT#THANKS", f"{int(fixed_at):012d}#{report_id}"


class Received(msgspec.Struct, frozen=True):
    """What the reporter is told: the reference and whether the acknowledgement email went out."""

    id: str
    acknowledgement: str  # "sent" | "pending"


def submit(
    *,
    description: str,
    contact: str,
    steps_to_reproduce: str | None = None,
    impact: str | None = None,
    name: str | None = None,
    source_ip: str = "",
    user_agent: str = "",
    now: float | None = None,
) -> Received:
    """Validate, count against the address's limit, store, signal and acknowledge one report.

    ``ValidationFailed`` (422, ``details.field``) for a blank description or an address mail cannot go to;
    ``RateLimited`` (429 ``too_many_reports``) past the limit; ``RuntimeError`` inside a tenant scope (a bug)."""

    if scope.current() is not None:
        raise RuntimeError("a security report belongs to no company: submit it outside a tenant scope")
    description = _text(description, "description", MAX_DESCRIPTION, required=True)
    steps_to_reproduce = _text(steps_to_reproduce, "steps_to_reproduce", MAX_TEXT)
    impact = _text(impact, "impact", MAX_TEXT)
    name = _text(name, "name", MAX_NAME)
    contact = _contact(contact)
    _count(source_ip, now)

    moment = int(time.time() if now is None else now)
    report_id = new_id()
    item = SecurityReport(
        *SecurityReport.key(report_id),
        id=report_id,
        received_at=moment,
        description=description,
        steps_to_reproduce=steps_to_reproduce,
        impact=impact,
        contact=contact,
        name=name,
        source_ip=source_ip or None,
        user_agent=(user_agent or "")[:512] or None,
    )
    item.save(condition=SecurityReport.pk.does_not_exist())
    ReportEntry(*ReportEntry.key(moment, report_id), id=report_id, status="received", received_at=moment).save()
    log.info("security report received", extra={"report": report_id})
    _signal(report_id, source_ip)
    return Received(report_id, _acknowledge(item, now))


def get(report_id: str) -> SecurityReport | None:
    """The stored report, or None (for the security team's tools and the tests)."""
    try:
        return SecurityReport.get(*SecurityReport.key(report_id), consistent_read=True)
    except DoesNotExist:
        return None


class Moved(msgspec.Struct, frozen=True):
    """What a move did: the report's new status, and whether the reporter's email went out ("sent"/"not sent")."""

    status: str
    email: str
    credit_offered: bool


def move(report_id: str, status: str, *, note: str | None = None, now: float | None = None) -> Moved:
    """Move a report to ``status`` (an operator's decision) and tell the reporter. ``NotFound`` for an unknown
    report; ``Conflict`` ``report_status`` for a move ``MOVES`` does not allow (or a concurrent one)."""
    if status not in STATUSES:
        raise errors.ValidationFailed(f"status is one of {', '.join(STATUSES)}", code="report_status")
    note = _text(note, "note", MAX_NOTE)
    item = get(report_id)
    if item is None:
        raise errors.NotFound("No such report.", code="report_not_found")
    if status not in MOVES.get(item.status, ()):
        raise errors.Conflict(f"A {item.status} report cannot become {status}.", code="report_status")
    moment = int(time.time() if now is None else now)
    entry = {"status": status, "at": moment, **({"note": note} if note else {})}
    actions = [
        SecurityReport.status.set(status),
        SecurityReport.history.set(SecurityReport.history.append([entry]))
        if item.history is not None
        else SecurityReport.history.set([entry]),
    ]
    if status == "fixed":
        actions.append(SecurityReport.fixed_at.set(moment))
    try:
        item.update(actions=actions, condition=SecurityReport.status == item.status)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise errors.Conflict("The report moved meanwhile; look again.", code="report_status") from None
        raise
    ReportEntry(
        *ReportEntry.key(item.received_at, item.id), id=item.id, status=status, received_at=item.received_at
    ).save()
    log.info("security report moved", extra={"report": item.id, "status": status})
    credit_link = ""
    if status == "fixed" and item.name:
        credit_link = _offer_credit(item, moment)
    email = _tell(item, status, note or "", credit_link)
    return Moved(status, email, bool(credit_link))


def _offer_credit(item: SecurityReport, moment: int) -> str:
    """A single-use link that confirms the reporter's credit (the token's hash stored, the token in the fragment)."""
    # cold start: loaded on first use
    from protu.identity.tokens import new_token

    token, token_hash = new_token()
    CreditLink(*CreditLink.key(token_hash), report_id=item.id, expires_at=moment + CREDIT_SECONDS).save()
    item.update(actions=[SecurityReport.credit.set("offered")])
    return f"/security/thanks/confirm#token={token}"


def _tell(item: SecurityReport, status: str, note: str, credit_link: str) -> str:
    """Email the reporter about the move; "sent" or "not sent" (the move stands either way: the CLI says so)."""
    # cold start: loaded on first use
    from protu import mail

    try:
        sent = mail.send(
            STATUS_TEMPLATE, item.contact, reference=item.id, status=status, note=note, credit_link=credit_link
        )
    except Exception as error:  # noqa: BLE001 - the move is recorded; the operator is told to write by hand
        log.warning("security report update not sent", extra={"report": item.id, "error_type": type(error).__name__})
        return "not sent"
    return "sent" if sent else "not sent"


def confirm_credit(token: str, now: float | None = None) -> str:
    """Publish the credit of the report whose link this is (once); answers the name listed. ``BadRequest``
    ``invalid_token`` for an unknown, used or expired link."""
    # cold start: loaded on first use
    from protu.identity.tokens import token_hash

    moment = int(time.time() if now is None else now)
    invalid = errors.BadRequest("This link is not valid any more.", code="invalid_token")
    try:
        link = CreditLink.get(*CreditLink.key(token_hash(token)), consistent_read=True)
    except DoesNotExist:
        raise invalid from None
    item = get(link.report_id)
    if link.expires_at < moment or item is None or item.status != "fixed" or not item.name:
        raise invalid
    try:
        link.delete(condition=CreditLink.pk.exists())  # single use: a second click finds nothing
    except DeleteError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise invalid from None  # used meanwhile
        raise
    try:
        Credit(*Credit.key(item.fixed_at or moment, item.id), name=item.name, fixed_at=item.fixed_at or moment).save(
            condition=Credit.pk.does_not_exist()
        )
    except PutError:
        pass  # listed already
    item.update(actions=[SecurityReport.credit.set("confirmed")])
    log.info("security report credit confirmed", extra={"report": item.id})
    return item.name


def thanks() -> list[dict[str, str]]:
    """The acknowledgements page: each confirmed credit, newest fix first (the name, and the month it was fixed)."""
    found = Credit.query("REPORT#THANKS", scan_index_forward=False, limit=THANKS_LIMIT)
    return [{"name": c.name, "fixed": time.strftime("%Y-%m", time.gmtime(c.fixed_at))} for c in found]


def listing(status: str | None = None) -> list[ReportEntry]:
    """Reports for operators, newest first (all, or those in ``status``)."""
    entries = ReportEntry.query("REPORT#INDEX", scan_index_forward=False)
    return [entry for entry in entries if status is None or entry.status == status]


def new_id() -> str:
    return f"rep-{secrets.token_hex(8)}"


# ------------------------------------------------------------------------------------------------ steps
def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    """The text as written (line breaks and indentation matter in steps to reproduce); blank counts as absent."""
    if value is None or not value.strip():
        if required:
            raise errors.ValidationFailed("Describe the vulnerability.", details={"field": field})
        return None
    if len(value) > limit:  # the HTTP schema says the same; this holds for other callers too
        label = field.replace("_", " ").capitalize()
        raise errors.ValidationFailed(f"{label} must be at most {limit} characters long.", details={"field": field})
    return value


def _contact(value: str) -> str:
    """The address we acknowledge to: one address the mailer accepts (its own rule, so no drift)."""
    # cold start: loaded on first use
    from protu.mail.client import _address

    address = (value or "").strip()
    try:
        return _address(address)
    except ValueError:
        raise errors.ValidationFailed(
            "Enter an email address we can reply to, such as name@example.com.", details={"field": "contact"}
        ) from None


def _count(source_ip: str, now: float | None) -> None:
    decision = ratelimit.hit(RATE_SCOPE, address_key(source_ip), limit=LIMIT, window_seconds=WINDOW_SECONDS, now=now)
    if not decision.allowed:
        log.warning("security report refused: rate limit", extra={"count": decision.count})
        raise errors.RateLimited(MESSAGE, code="too_many_reports", headers={"Retry-After": str(decision.retry_after)})


def _mailbox(contact: str) -> str:
    """The mailbox an address delivers to, as far as we can tell without asking its provider: the key of the
    acknowledgement limit. Case is folded (no provider we mail tells ``Ana`` from ``ana``), a ``+tag`` is dropped
    (sub-addressing, which the large providers deliver to the untagged mailbox) and, at Gmail, so are the dots of
    the local part. Folding too much only withholds an acknowledgement; folding too little lets a mailbox be
    bombed under many spellings."""
    local, _, domain = contact.strip().casefold().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", "") or local, "gmail.com"
    return f"{local}@{domain}"


def _signal(report_id: str, source_ip: str) -> None:
    """The signal names the report only: its details are logged and kept, the report's text is confidential. A
    failure to store it is logged (``raise_signal`` has already written its log line) and does not lose the
    report, which is stored."""

    try:
        signals.raise_signal(SIGNAL, source_ip=source_ip or None, details={"report": report_id})
    except Exception as error:  # noqa: BLE001 - the report is kept; the log line stands in for the signal
        log.error("security report signal not stored", extra={"report": report_id, "error_type": type(error).__name__})


def _acknowledge(item: SecurityReport, now: float | None = None) -> str:
    """Email the acknowledgement now; "sent", or "pending" when it could not go out (never an error). Past the
    mailbox's daily limit nothing is sent, the report is marked "withheld" and the answer is still "sent" (see
    the module doc)."""
    # cold start: loaded on first use
    from protu import mail

    if not _may_acknowledge(item, now):
        try:
            item.update(actions=[SecurityReport.acknowledgement.set("withheld")])
        except Exception as error:  # noqa: BLE001 - the report is kept; only the note of it is missing
            log.warning(
                "security report acknowledgement not noted",
                extra={"report": item.id, "error_type": type(error).__name__},
            )
        return "sent"
    try:
        message_id = mail.send(TEMPLATE, item.contact, reference=item.id)
    except Exception as error:  # noqa: BLE001 - Mailgun down or refusing must not fail the report
        log.warning(
            "security report acknowledgement not sent",
            extra={"report": item.id, "error_type": type(error).__name__, "error_code": getattr(error, "code", None)},
        )
        return "pending"
    if not message_id:  # the address is on the suppression list: nothing was sent
        log.warning("security report acknowledgement suppressed", extra={"report": item.id})
        return "pending"
    try:
        item.update(
            actions=[SecurityReport.acknowledgement.set("sent"), SecurityReport.acknowledged_at.set(int(time.time()))]
        )
    except Exception as error:  # noqa: BLE001 - the email went out; only the note of it is missing
        log.warning(
            "security report acknowledgement not noted", extra={"report": item.id, "error_type": type(error).__name__}
        )
    return "sent"


def _may_acknowledge(item: SecurityReport, now: float | None) -> bool:
    """Count one acknowledgement against the contact's mailbox; whether it is within ``ACK_LIMIT`` a day. The
    counter failing withholds nothing: the report is kept either way, the per-address limit still holds, and an
    acknowledgement lost to a counter's hiccup would break the page's promise to a real reporter."""

    try:
        decision = ratelimit.hit(
            ACK_SCOPE, _mailbox(item.contact), limit=ACK_LIMIT, window_seconds=ACK_WINDOW_SECONDS, now=now
        )
    except Exception as error:  # noqa: BLE001 - the acknowledgement must not fail the report
        log.warning(
            "security report acknowledgement limit unavailable; sending",
            extra={"report": item.id, "error_type": type(error).__name__},
        )
        return True
    if not decision.allowed:
        log.warning("security report acknowledgement withheld: mailbox limit", extra={"report": item.id})
    return decision.allowed
