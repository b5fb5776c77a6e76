"""The built-in SMTP receiver (aiosmtpd) on the desk's own event loop.

RFC 5321: a message is ours once we answer 250 to DATA, so 250 comes only after the inbox
committed it. Until then every failure is a 4xx (the sending server keeps the mail and retries),
except what retrying cannot fix: a recipient domain we do not serve (550), a message over the
size limit (552), an empty message (554). A bad message never takes the server down.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from typing import Awaitable, Callable

from aiosmtpd.smtp import SMTP, Envelope, Session

logger = logging.getLogger(__name__)
Accept = Callable[[bytes, str], Awaitable[str]]  # (raw mail, envelope sender) -> the SMTP reply line


class ReceiverHandler:
    """aiosmtpd hooks: check recipients, hand DATA to the channel, answer with its verdict."""

    def __init__(self, domains: tuple[str, ...], accept: Accept):
        self.domains = {d.lower() for d in domains}
        self.accept = accept

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options) -> str:
        domain = address.rpartition("@")[2].strip().lower().rstrip(".")
        if domain not in self.domains:
            return f"550 5.7.1 <{address[:100]}>: this server accepts mail only for {', '.join(sorted(self.domains))}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if not raw.strip():
            return "554 5.6.0 the message is empty"
        try:
            return await self.accept(raw, envelope.mail_from or "")
        except Exception:
            logger.exception("storing a mail from %r failed", envelope.mail_from)
            return "451 4.3.0 the desk could not store the message just now; please try again later"


class Receiver:
    """Listens on host:port while the channel runs."""

    def __init__(self, host: str, port: int, handler: ReceiverHandler, max_bytes: int, hostname: str = "helpline"):
        self.host, self.port, self.handler, self.max_bytes, self.hostname = host, port, handler, max_bytes, hostname
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def factory() -> SMTP:
            return SMTP(self.handler, data_size_limit=self.max_bytes, enable_SMTPUTF8=True, decode_data=False,
                        hostname=self.hostname, ident="helpline", timeout=120, loop=loop)

        self._server = await loop.create_server(factory, host=self.host, port=self.port, family=socket.AF_UNSPEC,
                                                reuse_address=True)
        logger.info("SMTP receiver listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except asyncio.TimeoutError:
                logger.warning("SMTP receiver connections still open at shutdown")
