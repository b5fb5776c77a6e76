"""What a channel learns about a client's identity: it can no longer be reached, or a verified phone."""
from __future__ import annotations

import logging
import re

from sqlalchemy import select

from bot.actions.context import Desk, unit_of_work
from bot.errors import InvalidInput
from bot.events import TicketChanged
from bot.storage.models import AuditEvent, ChannelIdentity, Client, Ticket

logger = logging.getLogger(__name__)
E164 = re.compile(r"\+[1-9][0-9]{5,14}")


async def _latest_ticket_id(s, identity: ChannelIdentity) -> int | None:
    return (await s.execute(select(Ticket.id).where(Ticket.client_id == identity.client_id, Ticket.channel == identity.channel)
                            .order_by(Ticket.id.desc()).limit(1))).scalar_one_or_none()


async def set_reachability(desk: Desk, channel: str, external_id: str, reachable: bool, reason: str = "") -> bool:
    """Record whether replies can reach an identity (e.g. the client blocked the bot); True when it changed.

    An identity the desk has not met yet is left alone: there is nothing to show for it.
    """
    reason = "" if reachable else (reason or "the channel refuses messages to this client")[:500]
    async with unit_of_work(desk) as unit:
        s = unit.session
        identity = (await s.execute(select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id).with_for_update(key_share=True))).scalar_one_or_none()
        if identity is None or (identity.unreachable == (not reachable) and identity.unreachable_reason == reason):
            return False
        identity.unreachable = not reachable
        identity.unreachable_reason = reason
        ticket_id = await _latest_ticket_id(s, identity)
        s.add(AuditEvent(kind="identity_reachable" if reachable else "identity_unreachable", ticket_id=ticket_id,
                         data={"channel": channel, "identity_id": identity.id, "reason": reason}))
        if ticket_id is not None:
            unit.events.append(TicketChanged(ticket_id=ticket_id, what="client_reachability"))
    logger.info("%s identity %s is %s%s", channel, identity.id, "reachable again" if reachable else "unreachable",
                f": {reason}" if reason else "")
    return True


async def verify_phone(desk: Desk, channel: str, external_id: str, phone: str) -> bool:
    """Keep a phone number the channel vouches for (Telegram's own contact button) on the client; True when new."""
    if not E164.fullmatch(phone):
        raise InvalidInput("{phone!r} is not a phone number in E.164 form (+ and 6-15 digits)", phone=phone)
    async with unit_of_work(desk) as unit:
        s = unit.session
        identity = (await s.execute(select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id))).scalar_one_or_none()
        if identity is None:
            return False
        client = await s.get(Client, identity.client_id, with_for_update={"key_share": True})
        if client.phone == phone:
            return False
        previous = client.phone
        client.phone = phone
        s.add(AuditEvent(kind="phone_verified", ticket_id=await _latest_ticket_id(s, identity),
                         data={"channel": channel, "identity_id": identity.id, "client_id": client.id,
                               "previous": previous}))
        return True
