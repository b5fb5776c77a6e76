"""Bounces (RFC 3464 delivery status notifications, and the older free-text kind) -> DeliveryReport.

A report names our original message by its Message-ID: in the returned message or headers part,
or, for free-text bounces, in the quoted headers of the body. Only permanent failures
(Action: failed, or a 5.x.x status) mark a message failed; a "delayed" notice is just stored.
"""
from __future__ import annotations

import re
from email.message import Message

from bot.domain import DeliveryReport, InboundMessage
from channels.email import headers, mime

QUOTED_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*<([^<>\s]{1,250})>", re.IGNORECASE | re.MULTILINE)
SMTP_FAILURE = re.compile(r"\b(5\d\d[ -]\d?\.?\d?\.?\d?.{0,200}|5\.\d{1,3}\.\d{1,3}.{0,200})", re.IGNORECASE)


def report(msg: Message, statuses: list[Message], returned: list[Message], inbound: InboundMessage,
           raw: bytes) -> DeliveryReport | None:
    """The failure report of an automated mail, or None when it reports no permanent failure of a known message."""
    original = _original_id(returned) or _quoted_id(inbound.text + "\n" + inbound.folded_text)
    if not original:
        return None
    if statuses:
        reason = _failure(statuses)
        if not reason:
            return None
    else:
        # Free-text bounces: only a daemon's mail with an SMTP failure line counts.
        match = SMTP_FAILURE.search(inbound.text + "\n" + inbound.folded_text)
        if not match:
            return None
        reason = " ".join(match.group(1).split())[:300]
    return DeliveryReport(channel=inbound.channel, report_id=inbound.message_id, original_id=original,
                          reason=f"Bounced: {reason}", text=inbound.text, raw=raw)


def _failure(statuses: list[Message]) -> str:
    """The reason of the first failed recipient in the per-recipient status blocks, "" if none failed."""
    for block in statuses:
        action = headers.text(block, "Action").lower()
        status = headers.text(block, "Status")
        if action == "failed" or (not action and status.startswith("5")):
            diagnostic = re.sub(r"^\s*smtp\s*;\s*", "", headers.text(block, "Diagnostic-Code"), flags=re.IGNORECASE)
            recipient = re.sub(r"^\s*rfc822\s*;\s*", "", headers.text(block, "Final-Recipient"), flags=re.IGNORECASE)
            detail = diagnostic or status or "delivery failed"
            return f"{detail} ({recipient})" if recipient else detail
    return ""


def _original_id(returned: list[Message]) -> str:
    for part in returned:
        ids = headers.message_ids(headers.raw_header(part, "Message-ID"))
        if ids:
            return ids[0]
        ids = headers.message_ids(headers.raw_header(mime.parse(mime.payload(part))[0], "Message-ID"))
        if ids:
            return ids[0]
    return ""


def _quoted_id(text: str) -> str:
    match = QUOTED_MESSAGE_ID.search(text)
    return match.group(1) if match else ""
