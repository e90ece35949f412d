"""Email: rendering a notification as a message, and the sender that works
through `email_deliveries`.

A delivery is PENDING until the mail server takes it (SENT), or refuses it for
good (FAILED, with the error): a 5xx answer, or a 4xx one (or another SMTP
error) `email_max_attempts` times. A server that cannot be reached (refused,
reset, timed out) is not the message's fault: the try is counted and retried
with capped doubling backoff, forever, so an outage loses nothing. Each message
is sent inside its own transaction holding the delivery's row lock (another
replica skips it) and marked SENT in that transaction; only a crash between
the server's "250" and the commit sends one twice. Its Message-ID is fixed per
delivery, so such a duplicate can be recognised downstream. Anything else that
goes wrong with one message (it cannot even be built from its stored address,
say) is that message's fault: it is FAILED with the error at once, and the
queue moves on.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from prometheus_client import Counter, Gauge

from common.db import Database
from common.metrics import Refresher
from notifications import domain, models, tokens
from notifications.settings import Settings

log = logging.getLogger(__name__)

QUEUED = "notifications.emails_queued"  # session.info: this transaction queued emails

EMAIL_QUEUE_DEPTH = Gauge("callastar_email_queue_depth", "Email deliveries not sent yet (PENDING)")
EMAIL_ATTEMPTS = Counter(
    "callastar_email_attempts", "Tries to send an email: sent, retry (later) or failed (for good)", ["outcome"],
)

# How a message goes on the wire. SMTP's own line limit (998) rather than the
# 78 columns a header is folded at by default: a header longer than that with no
# space to fold at (the List-Unsubscribe URL) would otherwise go out RFC
# 2047-encoded, which mail clients do not read as a URL.
WIRE = policy.SMTP.clone(max_line_length=998)
# RFC 8058: a client may unsubscribe with one POST to the List-Unsubscribe URL;
# scanners that only fetch (GET) links change nothing.
ONE_CLICK = "List-Unsubscribe=One-Click"
CONSOLE_PATH = "/console"  # where the gateway serves the web console

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    # Bodies carry text others chose (a failure message, a dispute reason).
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def type_label(type_: domain.NotificationType) -> str:
    """How a type reads in a sentence: "payout paid"."""
    return type_.value.replace("_", " ").lower()


def render(*, type_: domain.NotificationType, title: str, body: str, link_url: str | None,
           unsubscribe_url: str) -> Rendered:
    values = {"title": title, "body": body, "link_url": link_url, "unsubscribe_url": unsubscribe_url,
              "type_label": type_label(type_)}
    return Rendered(
        subject=title,
        text=TEMPLATES.get_template("email.txt").render(values),
        html=TEMPLATES.get_template("email.html").render(values),
    )


def unsubscribe_url(settings: Settings, user_id: str, type_: domain.NotificationType) -> str:
    token = tokens.sign(user_id, type_, secret=settings.unsubscribe_secret, now=int(time.time()),
                        ttl_s=settings.unsubscribe_ttl_days * 86400)
    return f"{settings.public_url}/api/notifications/unsubscribe?token={token}"


def console_url(settings: Settings, link: str) -> str:
    """A notification's link is the path of its object's page in the web console,
    which the gateway serves at /console (the same path the in-app bell links to)."""
    return f"{settings.public_url}{CONSOLE_PATH}{link}"


def compose(settings: Settings, delivery: models.EmailDelivery, notification: models.Notification) -> EmailMessage:
    type_ = domain.NotificationType(notification.type)
    unsubscribe = unsubscribe_url(settings, delivery.user_id, type_)
    rendered = render(
        type_=type_, title=notification.title, body=notification.body,
        link_url=console_url(settings, notification.link) if notification.link else None,
        unsubscribe_url=unsubscribe,
    )
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = settings.mail_from
    message["To"] = delivery.to_address
    message["Message-ID"] = f"<delivery-{delivery.id}@callastar.local>"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = ONE_CLICK
    message["X-Callastar-Notification"] = str(notification.id)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def queue_depth(db: Database) -> Refresher:
    async def refresh() -> None:
        async with db.sessions() as session:
            EMAIL_QUEUE_DEPTH.set(await models.pending_email_count(session))

    return refresh


class Mailer:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._wake = asyncio.Event()

    def wake_if_queued(self, committed: dict) -> None:
        """After a commit (Database.after_commit): send now if it queued emails."""
        if committed.get(QUEUED):
            self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                handled = await self.send_due()
            except Exception:  # noqa: BLE001 - the database may be away; try again later
                log.exception("sending emails failed")
                handled = 0
            if handled < self._settings.email_batch:  # a full batch: more may be due at once
                try:
                    await asyncio.wait_for(self._wake.wait(), self._settings.email_poll_s)
                except TimeoutError:
                    pass

    async def send_due(self) -> int:
        """Try up to one batch of due deliveries; how many were tried. Stops early
        when the server cannot be reached (the rest would fail the same way)."""
        tried = 0
        while tried < self._settings.email_batch:
            # Not Database.transaction(): its after-commit hooks would wake us for our own writes.
            async with self._db.sessions() as session, session.begin():
                due = await models.due_emails(session, 1)
                if not due:
                    return tried
                reachable = await self._attempt(*due[0])
            tried += 1
            if not reachable:
                return tried
        return tried

    async def _attempt(self, delivery: models.EmailDelivery, notification: models.Notification) -> bool:
        """Send one message and record how it went; False when the server is away."""
        settings = self._settings
        delivery.attempts += 1
        try:
            message = compose(settings, delivery, notification)
            wire = message.as_bytes(policy=WIRE)
            sender = message["From"].addresses[0].addr_spec
            recipients = [address.addr_spec for address in message["To"].addresses]
        except Exception as error:  # noqa: BLE001 - any error building it will recur on every try
            self._fail(delivery, f"cannot be composed: {error!r}")
            return True
        try:
            await aiosmtplib.send(wire, sender=sender, recipients=recipients, hostname=settings.smtp_host,
                                  port=settings.smtp_port, timeout=settings.smtp_timeout_s)
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                OSError) as error:
            self._retry_later(delivery, f"mail server unreachable: {error!r}")
            log.warning("email delivery %s: mail server unreachable, retrying later: %r", delivery.id, error)
            return False
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused) as error:
            codes = ([r.code for r in error.recipients] if isinstance(error, aiosmtplib.SMTPRecipientsRefused)
                     else [error.code])
            if any(code >= 500 for code in codes) or delivery.attempts >= settings.email_max_attempts:
                self._fail(delivery, f"refused: {error!r}")
            else:
                self._retry_later(delivery, f"refused for now: {error!r}")
            return True
        except aiosmtplib.SMTPException as error:  # the conversation went wrong otherwise
            if delivery.attempts >= settings.email_max_attempts:
                self._fail(delivery, f"smtp error: {error!r}")
            else:
                self._retry_later(delivery, f"smtp error: {error!r}")
            return True
        except Exception as error:  # noqa: BLE001 - about this one message: never let it block the queue
            self._fail(delivery, f"cannot be sent: {error!r}")
            return True
        delivery.status = models.DeliveryStatus.SENT.value
        delivery.sent_at = sa.func.now()
        delivery.last_error = None
        EMAIL_ATTEMPTS.labels("sent").inc()
        return True

    @staticmethod
    def _fail(delivery: models.EmailDelivery, error: str) -> None:
        delivery.status = models.DeliveryStatus.FAILED.value
        delivery.last_error = error
        EMAIL_ATTEMPTS.labels("failed").inc()
        log.error("email delivery %s failed for good: %s", delivery.id, error)

    def _retry_later(self, delivery: models.EmailDelivery, error: str) -> None:
        delay = domain.retry_delay(delivery.attempts, base_s=self._settings.email_retry_base_s,
                                   cap_s=self._settings.email_retry_cap_s)
        delivery.last_error = error
        delivery.next_attempt_at = sa.func.now() + timedelta(seconds=delay)
        EMAIL_ATTEMPTS.labels("retry").inc()
