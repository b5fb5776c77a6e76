"""Email test fixtures: the .eml corpus, a desk with the email channel, an aiosmtpd sink, dovecot."""
from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from bot.actions.operators import create_operator, log_in
from bot.email_config import EmailSettings
from bot.gateway import DeskGateway
from channels.email.adapter import EmailChannel
from tests.channels.email import dovecot
from tests.conftest import free_port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"
DOMAIN = "northwind.example"
SUPPORT = f"support@{DOMAIN}"


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class SinkHandler:
    """An SMTP server that records what it is sent; scripted replies make it refuse on demand."""

    received: list = field(default_factory=list)
    rcpt_replies: list = field(default_factory=list)  # popped per RCPT; "250 OK" when empty
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            reply = self.rcpt_replies.pop(0) if self.rcpt_replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


@dataclass
class Sink:
    handler: SinkHandler
    port: int

    @property
    def received(self):
        return self.handler.received


@pytest.fixture
def smtp_sink():
    """aiosmtpd on a free loopback port (port 0 does not work with its Controller)."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield Sink(handler, port)
    controller.stop()


def email_settings(*, sink_port: int | None = None, receiver_port: int | None = None, imap=(), **extra) -> EmailSettings:
    raw = {"messages_per_sender_per_hour": 30, **extra}
    if sink_port:
        raw["smtp"] = {"host": "127.0.0.1", "port": sink_port, "security": "none", "from_address": SUPPORT,
                       "timeout_seconds": 10}
    if receiver_port:
        raw["receiver"] = {"host": "127.0.0.1", "port": receiver_port, "domains": [DOMAIN]}
    if imap:
        raw["imap"] = list(imap)
    return EmailSettings.model_validate(raw)


def email_channel(desk, settings: EmailSettings, gateway=None, **kw) -> EmailChannel:
    return EmailChannel(settings, gateway or DeskGateway(desk), desk_name="Northwind", **kw)


async def operator(desk, username: str = "anna"):
    await create_operator(desk, username, username.title(), "password-123", "admin", ["general"], ["en"])
    _, viewer = await log_in(desk, username, "password-123")
    return viewer


@pytest.fixture(scope="session")
def dovecot_server(tmp_path_factory):
    """One dovecot for the session; each test uses its own folder so tests stay independent."""
    if not dovecot.available():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)")
    # Not under pytest's own temporary directory: dovecot's auth process runs as nobody and must reach
    # the password file, and pytest keeps its directories private to root.
    root = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
    try:
        server = dovecot.start(root, free_port())
        yield server
        dovecot.stop(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)
