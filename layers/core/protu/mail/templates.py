"""Every email Protu sends, in one place: a subject, a plain-text body and an HTML body from the same blocks.

A template is a function of keyword arguments returning a ``Mail``. It writes its body as a few blocks
(``_P`` paragraphs, one ``_Button`` link, ``_Facts`` label/value lines); ``_mail`` renders both bodies from them,
so the text and HTML versions say the same thing and every value reaches the HTML only through ``html.escape``.
No template builds HTML by hand.

Values are made safe on the way in:

* free text from people (names, company, role, reason, user agent) is collapsed to one line (control characters
  and newlines become spaces, so a name cannot add paragraphs of its own) and capped in length;
* links must point at ``settings().app_origin``: a path (``/signin``) is joined to it, a full URL elsewhere is a
  ``ValueError``, so an email from Protu can only ever send people to Protu;
* ``minutes`` must be a positive whole number, ``when`` a datetime (shown in UTC) or text.

``render(name, **context)`` is the entry point: an unknown template, a missing or unexpected argument, or a bad
value is a ``ValueError`` (a programming error, never shown to users). Messages never include the values.
"""

from __future__ import annotations

import html
import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from protu.settings import settings

PRODUCT = "Protu"
_MAX_VALUE = 200  # characters of one free-text value in a body
_MAX_SUBJECT_VALUE = 60  # ... and in a subject line
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\s]+")


class Mail(msgspec.Struct, frozen=True):
    subject: str
    text: str
    html: str


# --------------------------------------------------------------------------------------------- values
def _one_line(value: object, limit: int = _MAX_VALUE, *, required: bool = True) -> str:
    text = _CONTROL.sub(" ", str(value)).strip()
    if not text and required:
        raise ValueError("a mail template value is empty")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _link(value: object) -> str:
    """An absolute URL on the app's origin; a path is joined to the origin, anything else is refused."""
    origin = settings().app_origin
    link = str(value)
    if not link or _CONTROL.search(link) or any(c in link for c in "<>\"'\\"):
        raise ValueError("a mail link contains characters links cannot have")
    if link.startswith("/") and not link.startswith("//"):
        return origin + link
    if link == origin or link.startswith((origin + "/", origin + "?", origin + "#")):
        return link
    raise ValueError("links in email must point at the app origin")


def _minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("minutes must be a positive whole number")
    return value


def _when(value: object) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC")
    return _one_line(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --------------------------------------------------------------------------------------------- blocks
class _P(msgspec.Struct, frozen=True):
    text: str


class _Button(msgspec.Struct, frozen=True):
    label: str
    url: str


class _Facts(msgspec.Struct, frozen=True):
    rows: tuple[tuple[str, str], ...]


_Block = _P | _Button | _Facts

_FOOTER = (
    f"{PRODUCT} never asks for your password, codes or sign-in links by email or phone.",
    f"This email was sent automatically by {PRODUCT}.",
)
_BUTTON_STYLE = (
    "display:inline-block;padding:12px 20px;background:#1f4fd1;color:#ffffff;"
    "text-decoration:none;border-radius:4px;font-weight:bold"
)


def _text(blocks: tuple[_Block, ...]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, _P):
            parts.append(block.text)
        elif isinstance(block, _Button):
            parts.append(f"{block.label}:\n{block.url}")
        else:
            parts.append("\n".join(f"{label}: {value}" for label, value in block.rows))
    parts.append("-- \n" + "\n".join(_FOOTER))
    return "\n\n".join(parts) + "\n"


def _html(subject: str, blocks: tuple[_Block, ...]) -> str:
    e = html.escape  # quote=True: safe in text and in attribute values
    body = []
    for block in blocks:
        if isinstance(block, _P):
            body.append(f"<p>{e(block.text)}</p>")
        elif isinstance(block, _Button):
            body.append(f'<p><a href="{e(block.url)}" style="{_BUTTON_STYLE}">{e(block.label)}</a></p>')
            body.append(
                f'<p style="font-size:14px;color:#444444">If the button does not work, copy this address into '
                f'your browser:<br><a href="{e(block.url)}">{e(block.url)}</a></p>'
            )
        else:
            rows = "".join(f"<li><strong>{e(label)}:</strong> {e(value)}</li>" for label, value in block.rows)
            body.append(f"<ul>{rows}</ul>")
    footer = "".join(f"<p>{e(line)}</p>" for line in _FOOTER)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(subject)}</title>\n</head>\n"
        '<body style="margin:0;padding:24px;font-family:Arial,Helvetica,sans-serif;font-size:16px;'
        'line-height:1.5;color:#1a1a1a;background:#ffffff">\n'
        '<div style="max-width:600px;margin:0 auto">\n'
        f'<h1 style="font-size:20px">{e(subject)}</h1>\n' + "\n".join(body) + "\n"
        '<hr style="border:none;border-top:1px solid #dddddd">\n'
        f'<div style="font-size:13px;color:#555555">{footer}</div>\n'
        "</div>\n</body>\n</html>\n"
    )


def _mail(subject: str, *blocks: _Block) -> Mail:
    return Mail(subject=subject, text=_text(blocks), html=_html(subject, blocks))


# --------------------------------------------------------------------------------------------- templates
def verify_email(*, name: object, link: object) -> Mail:
    name = _one_line(name, required=False)  # people may sign up without a name
    return _mail(
        f"Confirm your email address for {PRODUCT}",
        _P(f"Hello {name}," if name else "Hello,"),
        _P(f"Please confirm that this is your email address to finish setting up your {PRODUCT} account."),
        _Button("Confirm my email address", _link(link)),
        _P(f"If you did not create a {PRODUCT} account, you can ignore this email."),
    )


def magic_link(*, link: object, minutes: object) -> Mail:
    minutes = _minutes(minutes)
    return _mail(
        f"Your {PRODUCT} sign-in link",
        _P(f"Use this link to sign in to {PRODUCT}. It works once and expires in {_plural(minutes, 'minute')}."),
        _Button(f"Sign in to {PRODUCT}", _link(link)),
        _P("If you did not ask to sign in, you can ignore this email: nobody can sign in without this link."),
    )


def password_reset(*, link: object, minutes: object) -> Mail:
    minutes = _minutes(minutes)
    return _mail(
        f"Reset your {PRODUCT} password",
        _P(
            "Someone asked to reset the password of the account with this email address. "
            f"The link works once and expires in {_plural(minutes, 'minute')}."
        ),
        _Button("Choose a new password", _link(link)),
        _P("If it was not you, ignore this email: your password stays as it is."),
    )


def invitation(*, company: object, inviter: object, role: object, link: object, refuse_link: object) -> Mail:
    """Names come from the inviting company (anyone can sign up): they are shown so that no mail client makes a
    link of them (``_unlinked``), and every invitation offers a link to refuse further invitations."""
    company_line, inviter_line = _unlinked(company), _unlinked(inviter)
    return _mail(
        f"{_unlinked(inviter, _MAX_SUBJECT_VALUE)} invited you to {_unlinked(company, _MAX_SUBJECT_VALUE)}"
        f" on {PRODUCT}",
        _P(f"{inviter_line} invited you to join {company_line} on {PRODUCT} as {_one_line(role)}."),
        _Button("Accept the invitation", _link(link)),
        _P(
            "If you did not expect this invitation, you can ignore this email. If you want no more invitations to "
            f"this address from anyone on {PRODUCT}, refuse them:"
        ),
        _Button("Refuse invitations to this address", _link(refuse_link)),
    )


def account_exists(*, link_to_sign_in: object) -> Mail:
    """Sent instead of a verification email when someone signs up with an address that already has an account:
    the sign-up answer looks the same either way, so nobody learns which addresses have accounts."""
    return _mail(
        f"You already have a {PRODUCT} account",
        _P(
            f"Someone tried to create a {PRODUCT} account with this email address, but it already has one. "
            "If it was you, sign in instead; if you forgot your password, you can reset it on the sign-in page."
        ),
        _Button(f"Sign in to {PRODUCT}", _link(link_to_sign_in)),
        _P("If it was not you, you can ignore this email: nothing has changed."),
    )


def new_sign_in(*, when: object, ip: object, user_agent: object) -> Mail:
    return _mail(
        f"New sign-in to your {PRODUCT} account",
        _P(f"Your {PRODUCT} account was just signed in to from a new device or place."),
        _Facts((("Time", _when(when)), ("IP address", _one_line(ip, 64)), ("Device", _one_line(user_agent)))),
        _P(
            "If this was you, there is nothing to do. If it was not, change your password now and tell your "
            "company's administrator."
        ),
        _Button(f"Open {PRODUCT}", _link("/")),
    )


def account_locked(*, minutes: object) -> Mail:
    minutes = _minutes(minutes)
    return _mail(
        f"Sign-in to your {PRODUCT} account is paused",
        _P(
            "There were too many failed attempts to sign in to your account, so sign-in is paused for "
            f"{_plural(minutes, 'minute')}."
        ),
        _P(
            "If it was you, wait and try again. If it was not, someone may be guessing your password: "
            "choose a new one when you next sign in, and turn on two-factor authentication."
        ),
    )


def sign_in_confirm(*, link: object, minutes: object) -> Mail:
    """Sent instead of a session when the right password arrives for an account under step-up."""
    minutes = _minutes(minutes)
    return _mail(
        f"Confirm it is you signing in to {PRODUCT}",
        _P(
            "Your password was just entered correctly. Because of recent failed attempts to sign in to your "
            f"account, {PRODUCT} asks you to confirm it is you before signing in."
        ),
        _Button("Confirm and sign in", _link(link)),
        _P(
            f"The link works once and expires in {_plural(minutes, 'minute')}. If it was not you, someone knows "
            "your password: do not use the link, and change your password now."
        ),
    )


def sign_in_attempts(*, attempts: object, blocked: object = False) -> Mail:
    """To the holder of an account that someone keeps failing to sign in to: what happened, what it means."""
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        raise ValueError("attempts must be a whole number")
    how_many = _plural(attempts, "failed attempt") if attempts else "several failed attempts"
    lines = [
        _P(
            f"There were {how_many} to sign in to your {PRODUCT} account recently"
            + (", from a network we have now blocked." if blocked else ".")
        ),
        _P(
            "Your account is not locked and your open sessions keep working. The next time you sign in, "
            "we will ask you to confirm it is you with a link by email or your two-factor code."
        ),
        _P(
            "If it was you, there is nothing else to do. If it was not, someone may be guessing your password: "
            "choose a long, unique one and turn on two-factor authentication."
        ),
    ]
    return _mail(f"Failed attempts to sign in to your {PRODUCT} account", *lines)


def suspicious_activity(*, reason: object) -> Mail:
    return _mail(
        f"Unusual activity on your {PRODUCT} account",
        _P(f"We noticed something unusual on your account: {_one_line(reason)}."),
        _P(
            "If this was not you, change your password now, check your two-factor authentication and tell your "
            "company's administrator."
        ),
        _Button(f"Open {PRODUCT}", _link("/")),
    )


def password_changed(*, when: object) -> Mail:
    return _mail(
        f"Your {PRODUCT} password was changed",
        _P(f"The password of your {PRODUCT} account was changed on {_when(when)}. Other sessions were signed out."),
        _P("If you did not do this, reset your password now and tell your company's administrator."),
        _Button(f"Open {PRODUCT}", _link("/")),
    )


def two_factor_changed(*, enabled: object, when: object) -> Mail:
    if not isinstance(enabled, bool):
        raise ValueError("enabled must be True or False")
    state = "turned on" if enabled else "turned off"
    return _mail(
        f"Two-factor authentication was {state}",
        _P(f"Two-factor authentication for your {PRODUCT} account was {state} on {_when(when)}."),
        _P("If you did not do this, change your password now and tell your company's administrator."),
        _Button(f"Open {PRODUCT}", _link("/")),
    )


def recovery_codes_regenerated(*, when: object) -> Mail:
    return _mail(
        "New two-factor recovery codes were made",
        _P(
            f"New recovery codes for your {PRODUCT} account were made on {_when(when)}. The earlier codes no longer "
            "work."
        ),
        _P("If you did not do this, change your password now and tell your company's administrator."),
        _Button(f"Open {PRODUCT}", _link("/")),
    )


def payment_failed(*, company: object, link: object) -> Mail:
    return _mail(
        f"Payment for {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT} failed",
        _P(f"We could not take the latest payment for {_one_line(company)}'s {PRODUCT} subscription."),
        _P("Please update the payment details to keep your company's access."),
        _Button("Update payment details", _link(link)),
    )


SUPPORT = "security@protu.io"


def security_incident(*, company: object, what: object, data: object, actions: object, reference: object) -> Mail:
    """The notice to a company's owners about a security incident that concerns it (within 72 hours)."""
    return _mail(
        f"Security notice for {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT}",
        _P(f"We are writing about a security incident that concerns {_one_line(company)}."),
        _Facts(
            (
                ("What happened", _one_line(what)),
                ("What data", _one_line(data)),
                ("What we are doing", _one_line(actions)),
                ("Reference", _one_line(reference, 40)),
            )
        ),
        _P(
            f"You can follow it on the Incidents page of {PRODUCT}. Questions: write to {SUPPORT}, quoting the "
            "reference above."
        ),
        _Button("Open the incident", _link("/incidents")),
    )


def security_incident_resolved(*, company: object, what: object, reference: object) -> Mail:
    """The closing update to the owners who were sent an incident's notice."""
    return _mail(
        f"Security incident resolved for {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT}",
        _P(f"The security incident we told you about is resolved: {_one_line(what)}."),
        _Facts((("Reference", _one_line(reference, 40)),)),
        _P(
            f"The Incidents page of {PRODUCT} shows its timeline. Questions: write to {SUPPORT}, quoting the "
            "reference above."
        ),
        _Button("Open the incident", _link("/incidents")),
    )


_INCIDENT_STATUS = {"open": "Open: we are investigating", "contained": "Contained: we are still working on it"}


def security_incident_update(*, company: object, what: object, status: object, news: object, reference: object) -> Mail:
    """The regular update to the owners who were sent an incident's notice, while it is open: its status and what
    changed since the last update (``news``: the steps done and the security team's notes for customers, one
    paragraph each), or that it is still being worked on."""
    if status not in _INCIDENT_STATUS:
        raise ValueError("unknown incident status")
    if not isinstance(news, (list, tuple)) or not all(isinstance(item, str) for item in news):
        raise ValueError("news is a list of texts")
    changes = [_P(_one_line(item, 1000)) for item in news if item.strip()]
    if not changes:
        changes = [_P("Nothing new since our last update: we are still working on it and will write again.")]
    return _mail(
        f"Update on the security incident for {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT}",
        _P(f"An update on the security incident that concerns {_one_line(company)}: {_one_line(what)}."),
        _Facts((("Status", _INCIDENT_STATUS[str(status)]), ("Reference", _one_line(reference, 40)))),
        _P("Since our last message:"),
        *changes,
        _P(
            f"We will keep writing until it is resolved. The Incidents page of {PRODUCT} shows its timeline. "
            f"Questions: write to {SUPPORT}, quoting the reference above."
        ),
        _Button("Open the incident", _link("/incidents")),
    )


def security_report_received(*, reference: object) -> Mail:
    """The acknowledgement to someone who reported a vulnerability (sent at once: the 24-hour promise)."""
    return _mail(
        f"We received your security report ({_one_line(reference, 40)})",
        _P("Thank you for reporting a possible vulnerability in " + PRODUCT + ". A person will look at it."),
        _Facts((("Reference", _one_line(reference, 40)),)),
        _P(
            f"We will keep you informed of what we find. Please keep the details private until it is fixed. "
            f"Questions: {SUPPORT}, quoting the reference."
        ),
    )


# What a reporter is told when their report moves, in plain words (protu.security.reports.move).
_REPORT_STATUS = {
    "triaging": (
        "We are looking into your security report",
        "A person is now working out whether and how it can be exploited.",
    ),
    "confirmed": (
        "We confirmed your security report",
        "We could reproduce it: it is a vulnerability, and we are fixing it.",
    ),
    "fixed": (
        "The vulnerability you reported is fixed",
        "The fix is live. Thank you: you made " + PRODUCT + " safer for everyone who uses it.",
    ),
    "not_a_vulnerability": (
        "Our conclusion on your security report",
        "We looked at it carefully and concluded it is not a vulnerability in " + PRODUCT + ".",
    ),
}


def security_report_status(*, reference: object, status: object, note: object = "", credit_link: object = "") -> Mail:
    """A report moved on (triaging, confirmed, fixed, not a vulnerability); at "fixed", for a reporter who gave a
    name to be credited with, the link that confirms it (nothing is published before they use it)."""
    if status not in _REPORT_STATUS:
        raise ValueError("unknown report status")
    heading, what = _REPORT_STATUS[str(status)]
    blocks: list[_Block] = [_P(what), _Facts((("Reference", _one_line(reference, 40)),))]
    if note:
        blocks.append(_P("From the security team: " + _one_line(note, 2000)))
    if credit_link:
        blocks += [
            _P(
                "You asked to be credited. Confirm the name you gave and we will list it on our acknowledgements "
                "page; if you do not, nothing is published."
            ),
            _Button("Confirm my credit", _link(credit_link)),
        ]
    blocks.append(_P(f"Questions: {SUPPORT}, quoting the reference."))
    return _mail(f"{heading} ({_one_line(reference, 40)})", *blocks)


_LINK_DOT = re.compile(r"(?<=\w)[.\u3002\uff0e\uff61](?=\w)")  # a dot (or a look-alike) inside a word
_SCHEME = re.compile(r"[:\uff1a\ufe13\ufe55](?=[/\\\uff0f]{2})")  # the colon of "://" (or a look-alike)


def _unlinked(value: object, limit: int = _MAX_VALUE) -> str:
    """A free-text value (a company's or a person's name) that no mail client turns into a link: a dot between
    word characters becomes U+2024 ONE DOT LEADER (so "evil.example" or "www.x" is no host name) and the colon of
    "://" becomes U+2236 RATIO (so "https://" is no scheme). It still reads the same."""
    return _SCHEME.sub("\u2236", _LINK_DOT.sub("\u2024", _one_line(value, limit)))


def invitation_account_exists(*, company: object, inviter: object, refuse_link: object) -> Mail:
    """Sent instead of an invitation when the address already has an account with another company. The inviter
    gets the same answer either way, so nobody learns which addresses have accounts; one address belongs to one
    company, so this invitation cannot be accepted with it."""
    company_line = _unlinked(company)
    return _mail(
        f"{_unlinked(inviter, _MAX_SUBJECT_VALUE)} invited you to {_unlinked(company, _MAX_SUBJECT_VALUE)}"
        f" on {PRODUCT}",
        _P(
            f"{_unlinked(inviter)} invited you to join {company_line} on {PRODUCT}. This email address already has a "
            f"{PRODUCT} account with another company, and one address belongs to one company only, so this "
            "invitation cannot be accepted with it."
        ),
        _P(
            f"If you want to join {company_line}, ask them to invite another of your addresses. Otherwise there is "
            "nothing to do: your account has not changed."
        ),
        _P(f"If you want no more invitations to this address from anyone on {PRODUCT}, refuse them:"),
        _Button("Refuse invitations to this address", _link(refuse_link)),
    )


def invitation_declined(
    *, email: object, company: object, refused: object = False, own_company: object = False
) -> Mail:
    """To the person who sent an invitation that will not be accepted: the invitee declined it, refused it and any
    further invitation (the link in the invitation: ``refused``), or made a company of their own (``own_company``)."""
    if not isinstance(refused, bool) or not isinstance(own_company, bool) or (refused and own_company):
        raise ValueError("refused and own_company must be True or False, and not both True")
    who, company_line = _one_line(email, 254), _one_line(company)
    if own_company:
        what = f"created their own company on {PRODUCT}, so your invitation to join {company_line} was withdrawn"
    else:
        what = f"declined your invitation to join {company_line} on {PRODUCT}"
        if refused:
            what += " and asked for no more invitations"
    return _mail(
        f"{_one_line(email, _MAX_SUBJECT_VALUE)} will not join {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT}",
        _P(f"{who} {what}."),
        _P("They are no longer listed as invited on your Users page, and their invitation link no longer works."),
        _Button("Open your users", _link("/users")),
    )


def audit_stream_added(*, company: object, host: object, by: object) -> Mail:
    """To every owner when an audit stream is added: the whole audit log now also goes to that host. The host is
    shown so that no mail client makes a link of it."""
    return _mail(
        f"An audit stream was added to {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT}",
        _P(
            f"{_one_line(by)} added an audit stream to {_one_line(company)}: from now on every event of your "
            f"company's audit log is also sent to {_unlinked(host)}."
        ),
        _P("If nobody in your company meant to do this, remove it on the audit log page and change your passwords."),
        _Button("Open the audit log", _link("/audit")),
    )


def audit_stream_removed(*, company: object, host: object, by: object) -> Mail:
    """To every owner when an audit stream is removed: its host receives nothing more."""
    return _mail(
        f"An audit stream was removed from {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT}",
        _P(
            f"{_one_line(by)} removed the audit stream of {_one_line(company)} to {_unlinked(host)}: it receives no "
            "more events of your audit log."
        ),
        _P("If nobody in your company meant to do this, add it again on the audit log page."),
        _Button("Open the audit log", _link("/audit")),
    )


def audit_stream_failed(*, company: object, host: object, since: object) -> Mail:
    """To every owner once an audit stream has failed for a day: deliveries stopped; resuming sends what waits."""
    return _mail(
        f"The audit stream of {_one_line(company, _MAX_SUBJECT_VALUE)} on {PRODUCT} stopped",
        _P(
            f"We could not deliver {_one_line(company)}'s audit events to {_unlinked(host)} since {_when(since)}, "
            "so we stopped trying."
        ),
        _P(
            "Nothing is lost: when the receiving side works again, resume the stream on the audit log page and it "
            "continues with the first event it did not accept."
        ),
        _Button("Open the audit log", _link("/audit")),
    )


def maintenance_scheduled(*, company: object, start: object, end: object, summary: object) -> Mail:
    """To every owner, at least 72 hours ahead (protu.ops.maintenance): planned downtime, when and why."""
    return _mail(
        f"Planned maintenance of {PRODUCT} on {_when(start)}",
        _P(
            f"{PRODUCT} will be unavailable, or partly so, during planned maintenance. We are telling you as the "
            f"owner of {_one_line(company)}."
        ),
        _Facts((("From", _when(start)), ("Until", _when(end)), ("What", _one_line(summary, 300)))),
        _P(f"The status page of {PRODUCT} lists planned maintenance, and signed-in pages show it until it ends."),
        _Button("Open the status page", _link("/status")),
    )


def maintenance_cancelled(*, company: object, start: object, end: object, summary: object) -> Mail:
    """To the owners who were told of a maintenance window: it will not happen."""
    return _mail(
        f"Planned maintenance of {PRODUCT} on {_when(start)} is cancelled",
        _P(
            f"The maintenance we told you about, as the owner of {_one_line(company)}, is cancelled: {PRODUCT} stays "
            "available then."
        ),
        _Facts((("Was planned from", _when(start)), ("Until", _when(end)), ("What", _one_line(summary, 300)))),
    )


def company_erased(*, company: object, by: object, when: object) -> Mail:
    """To every owner of a company that one of them erased (protu.ops.erasure): what is gone, what is kept."""
    return _mail(
        f"{_one_line(company, _MAX_SUBJECT_VALUE)} was erased from {PRODUCT}",
        _P(f"{_unlinked(by)} erased {_unlinked(company)} from {PRODUCT} on {_when(when)}. You are told as its owner."),
        _P(
            "Its candidates, employees, roles, teams, assessments and responses and its users are deleted, its "
            "encryption key is destroyed so that nothing in our backups can be read either, and its subscription is "
            "cancelled. Nobody can sign in to it any more."
        ),
        _P("The audit log keeps a record that the company was erased, as the law asks of us; none of its data."),
        _P(
            f"If nobody in your company meant to do this, write to {SUPPORT} at once: the data cannot be brought "
            "back, but we will find out with you how it happened."
        ),
    )


TEMPLATES: dict[str, Callable[..., Mail]] = {
    fn.__name__: fn
    for fn in (
        verify_email,
        magic_link,
        password_reset,
        invitation,
        account_exists,
        new_sign_in,
        account_locked,
        sign_in_confirm,
        sign_in_attempts,
        suspicious_activity,
        password_changed,
        two_factor_changed,
        recovery_codes_regenerated,
        payment_failed,
        security_incident,
        security_incident_resolved,
        security_incident_update,
        security_report_received,
        security_report_status,
        invitation_account_exists,
        invitation_declined,
        audit_stream_added,
        audit_stream_removed,
        audit_stream_failed,
        maintenance_scheduled,
        maintenance_cancelled,
        company_erased,
    )
}


def render(template: str, **context: object) -> Mail:
    """The ``Mail`` of ``template`` for ``context``; ``ValueError`` for an unknown template, a missing or unknown
    argument, or an unusable value."""
    fn = TEMPLATES.get(template)
    if fn is None:
        raise ValueError(f"unknown mail template {template!r}")
    try:
        inspect.signature(fn).bind(**context)
    except TypeError as exc:
        raise ValueError(f"mail template {template!r}: {exc}") from None
    if any(value is None for value in context.values()):
        raise ValueError(f"mail template {template!r}: a value is missing (None)")
    return fn(**context)
