"""The `[channels.email]` section of the config: the built-in receiver, outgoing SMTP, IMAP mailboxes.

Kept apart from bot.config so the email channel's keys live in one place; bot.config only mounts
them. Passwords may be written as "env:NAME" like every other value.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]
ADDRESS = re.compile(r"[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}")
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# Beyond images and PDF, mail brings documents and spreadsheets; every file is served as a download.
EMAIL_TYPES = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv",
    "application/msword", "application/vnd.ms-excel", "application/rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "message/rfc822",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailReceiverSettings(_Section):
    """The built-in SMTP receiver, for forwarding setups and the embedded demo."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(2525, ge=1, le=65535)
    domains: tuple[str, ...] = Field(min_length=1)  # recipient domains accepted; others get 550
    queue: Name | None = None  # where its tickets start; None: desk.default_queue

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(d.strip().lower().rstrip(".") for d in value)
        for domain in cleaned:
            if not DOMAIN.fullmatch(domain):
                raise ValueError(f"{domain!r} is not a domain name (write e.g. \"support.example.com\")")
        return cleaned


class EmailSmtpSettings(_Section):
    """Outgoing mail: the server replies are handed to."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str = ""
    password: SecretStr = SecretStr("")
    from_address: str
    timeout_seconds: float = Field(30.0, gt=0, le=600)

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not ADDRESS.fullmatch(value.strip()):
            raise ValueError(f"{value!r} is not an email address (write e.g. \"support@example.com\")")
        return value.strip()


class EmailImapSettings(_Section):
    """One mailbox polled over IMAP (IDLE where the server offers it)."""

    host: str = Field(min_length=1)
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "none"] = "tls"
    username: str = Field(min_length=1)
    password: SecretStr
    folder: str = "INBOX"
    queue: Name | None = None  # where its tickets start; None: desk.default_queue
    after_fetch: Literal["seen", "move"] = "seen"  # what is done to a message once it is stored
    move_to: str = ""  # the folder for after_fetch = "move"
    poll_seconds: float = Field(60.0, ge=1, le=3600)
    idle: bool = True
    timeout_seconds: float = Field(30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _move_needs_folder(self) -> "EmailImapSettings":
        if self.after_fetch == "move" and not self.move_to.strip():
            raise ValueError("move_to: required when after_fetch = \"move\" (e.g. move_to = \"Processed\")")
        return self


class EmailSettings(_Section):
    """`[channels.email]`: how mail comes in and goes out."""

    enabled: bool = True
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=10_000)  # larger mail is refused (SMTP) or left (IMAP)
    allowed_types: tuple[str, ...] = EMAIL_TYPES  # attachment types kept (also limited by attachments.max_bytes)
    messages_per_sender_per_hour: int = Field(30, ge=1)
    receiver: EmailReceiverSettings | None = None
    smtp: EmailSmtpSettings | None = None
    imap: tuple[EmailImapSettings, ...] = ()

    @field_validator("allowed_types")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.strip().lower() for t in value)

    def queues(self) -> list[tuple[str, str]]:
        """(key path, queue name) of every queue the section names, for the desk's check."""
        named = []
        if self.receiver and self.receiver.queue:
            named.append(("channels.email.receiver.queue", self.receiver.queue))
        named += [(f"channels.email.imap.{i}.queue", m.queue) for i, m in enumerate(self.imap) if m.queue]
        return named
