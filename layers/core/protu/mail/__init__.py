"""Email through Mailgun: ``send(template, to, **context)`` renders one of the templates of ``templates.py`` and
posts it to Mailgun's messages API (``client.py``); it returns Mailgun's message id.

    from protu import mail

    mail.send("magic_link", "ana@example.com", link="/signin/magic?token=...", minutes=10)

Templates: ``verify_email(name, link)``, ``magic_link(link, minutes)``, ``password_reset(link, minutes)``,
``invitation(company, inviter, role, link, refuse_link)``, ``invitation_account_exists(company, inviter,
refuse_link)``, ``invitation_declined(email, company, refused, own_company)``, ``account_exists(link_to_sign_in)``,
``new_sign_in(when, ip, user_agent)``, ``account_locked(minutes)``, ``suspicious_activity(reason)``,
``password_changed(when)``, ``two_factor_changed(enabled, when)``, ``payment_failed(company, link)``, and more
(``templates.TEMPLATES``). Links are paths on (or URLs of) the app's
origin. Under ``make run`` the same client posts to the local server, which keeps the mail in ``/_local/outbox``.

``suppression`` is the list of addresses not to email (hard bounces, complaints, unsubscribes; ``send`` skips
them and returns ``""``) and ``records`` the message ids Mailgun's webhook events are matched against; both are
filled in by ``events`` (Mailgun's delivery events, ``POST /webhooks/mailgun``).
"""

from protu.mail.client import MailgunKeys, MailRejected, mailgun_keys, send, webhook_signing_key
from protu.mail.templates import TEMPLATES, Mail, render

__all__ = [
    "TEMPLATES",
    "Mail",
    "MailRejected",
    "MailgunKeys",
    "mailgun_keys",
    "render",
    "send",
    "webhook_signing_key",
]
