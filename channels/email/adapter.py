"""EmailChannel: mailboxes and the built-in receiver in, SMTP replies out (the channel adapter)."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.domain import OutboundMessage, Receipt
from bot.errors import ConfigError, DeliveryError
from channels.base import DeskPort
from channels.email import outgoing
from channels.email.compose import compose
from channels.email.imap import MailboxPoller
from channels.email.limits import SenderLimit
from channels.email.normalize import CHANNEL, SYNTHETIC_DOMAIN, Limits, Mail, normalize
from channels.email.receiver import Receiver, ReceiverHandler

if TYPE_CHECKING:
    from bot.email_config import EmailSettings

logger = logging.getLogger(__name__)


class EmailChannel:
    """Every configured mailbox and the receiver feed one channel, "email": a Message-ID is unique across them."""

    name = CHANNEL

    def __init__(self, settings: EmailSettings, desk: DeskPort, *, desk_name: str = "helpline",
                 max_attachment_bytes: int = 10 * 1024 * 1024, clock=None):
        self.settings = settings
        self.desk = desk
        self.desk_name = desk_name
        self.limits = Limits(max_attachment_bytes=max_attachment_bytes, allowed_types=settings.allowed_types)
        self.senders = SenderLimit(settings.messages_per_sender_per_hour, **({"clock": clock} if clock else {}))
        self.pollers = [MailboxPoller(i, m, self._ingest_for(m.queue or ""), self._load, self._save,
                                      settings.max_message_bytes) for i, m in enumerate(settings.imap)]
        receiver = settings.receiver
        self.receiver = None
        if receiver is not None and receiver.enabled:
            handler = ReceiverHandler(receiver.domains, self.accept)
            self.receiver = Receiver(receiver.host, receiver.port, handler, settings.max_message_bytes)
        self._running = False

    # --- lifecycle ---

    async def start(self) -> None:
        """Check the mailbox and SMTP logins first (a refusal stops start-up), then receive."""
        if self.settings.smtp is not None:
            try:
                problem = await outgoing.check_login(self.settings.smtp)
            except Exception as exc:  # aiosmtplib.SMTPAuthenticationError
                raise ConfigError(f"channels.email.smtp: {self.settings.smtp.host} refused the login of "
                                  f"{self.settings.smtp.username!r} ({exc})") from None
            if problem:
                logger.warning("channels.email.smtp: %s:%s is not reachable yet (%s); replies wait in the outbox",
                               self.settings.smtp.host, self.settings.smtp.port, problem)
        for poller in self.pollers:
            problem = await poller.check_login()
            if problem:
                logger.warning("%s: %s is not reachable yet (%s); retrying in the background",
                               poller.where, poller.settings.host, problem)
        if self.receiver is not None:
            await self.receiver.start()
        alone = getattr(self.desk, "run_alone", None)  # several desk processes: one polls each mailbox
        for poller in self.pollers:
            poller.start(alone)
        self._running = True

    async def stop(self) -> None:
        """Stop the pollers and the receiver; safe to call twice."""
        self._running = False
        for poller in self.pollers:
            await poller.stop()
        if self.receiver is not None:
            await self.receiver.stop()

    # --- inbound ---

    async def accept(self, raw: bytes, envelope_from: str) -> str:
        """The receiver's path: store the mail, answer with the SMTP reply line (250 only after commit)."""
        queue = (self.settings.receiver.queue if self.settings.receiver else None) or ""
        mail = await asyncio.to_thread(normalize, raw, limits=self.limits, queue=queue, envelope_from=envelope_from)
        if not self.senders.allow(mail.sender):
            return "451 4.7.1 too many messages from this sender; please try again later"
        receipt = await self._store(mail)
        return f"250 2.0.0 OK: stored as message {receipt.message_id}"

    def _ingest_for(self, queue: str):
        async def ingest(raw: bytes, note: str) -> bool:
            mail = await asyncio.to_thread(normalize, raw, limits=self.limits, queue=queue, note=note)
            if not self.senders.allow(mail.sender):
                # The mailbox cannot refuse: keep the mail, but mark it so nothing answers the storm.
                mail = Mail(replace(mail.message, automated=True), mail.sender, "sender over its hourly limit", None)
            await self._store(mail)
            return True
        return ingest

    async def _store(self, mail: Mail) -> Receipt:
        if mail.report is not None:
            receipt = await self.desk.report_delivery(mail.report)
            if receipt is not None:
                return receipt
        return await self.desk.receive(mail.message)

    async def _load(self, key: str) -> dict | None:
        return await self.desk.load_state(CHANNEL, key)

    async def _save(self, key: str, value: dict) -> None:
        await self.desk.save_state(CHANNEL, key, value)

    # --- outbound ---

    async def send(self, message: OutboundMessage) -> str:
        """Send one reply through SMTP; returns its Message-ID (the desk records it for threading)."""
        smtp = self.settings.smtp
        if smtp is None:
            raise DeliveryError("no outgoing mail server is configured (channels.email.smtp)", permanent=True)
        if "@" not in message.chat_id or message.chat_id.endswith("@" + SYNTHETIC_DOMAIN):
            raise DeliveryError("the client's email address is unknown; there is nowhere to send a reply", permanent=True)
        files = []
        for attachment in message.attachments:
            found = await self.desk.attachment(CHANNEL, message.chat_id, attachment.id) if attachment.id else None
            if found is None:
                raise DeliveryError(f"the attached file {attachment.filename} is missing", permanent=True)
            files.append(found)
        try:
            mail, message_id = compose(message, from_address=smtp.from_address, desk_name=self.desk_name, files=files)
        except (ValueError, TypeError) as exc:  # a header the email package refuses (e.g. a line break)
            raise DeliveryError(f"the reply cannot be written as an email: {exc}", permanent=True) from None
        await outgoing.send_mail(smtp, mail, recipient=message.chat_id)
        return message_id
