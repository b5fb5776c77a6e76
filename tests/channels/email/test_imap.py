"""IMAP mailboxes against a real dovecot on loopback: cursor, downtime, ack after commit, IDLE."""
from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager

import aioimaplib
import pytest
from sqlalchemy import func, select

from bot.errors import ConfigError
from bot.events import MessageReceived
from bot.gateway import DeskGateway
from bot.storage.models import Message
from tests.channels.email.conftest import email_channel, email_settings
from tests.channels.email.mails import mail


@asynccontextmanager
async def imap(server):
    client = aioimaplib.IMAP4(host="127.0.0.1", port=server.port, timeout=10)
    await client.wait_hello_from_server()
    try:
        assert (await client.login(server.user, server.password)).result == "OK"
        yield client
    finally:
        await client.logout()


@pytest.fixture
async def folder(dovecot_server):
    """A folder of this test's own in the shared dovecot mailbox."""
    name = f"t{secrets.token_hex(6)}"
    async with imap(dovecot_server) as client:
        assert (await client.create(name)).result == "OK"
    return name


async def append(server, folder: str, raw: bytes, flags: str | None = None) -> None:
    async with imap(server) as client:
        assert (await client.append(raw, mailbox=folder, flags=flags)).result == "OK"


async def flags(server, folder: str) -> dict[str, set[str]]:
    """Message-ID -> flags of every message in the folder."""
    async with imap(server) as client:
        await client.select(folder)
        response = await client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out, current = {}, None
    for line in response.lines:
        if isinstance(line, bytes) and b"FLAGS" in line:
            current = set(line.split(b"FLAGS (")[1].split(b")")[0].decode().split())
        elif isinstance(line, bytearray) and current is not None:
            out[bytes(line).decode().split("<")[1].split(">")[0]] = current - {"\\Recent"}
    return out


def mailbox(server, folder: str, **extra) -> dict:
    return {"host": "127.0.0.1", "port": server.port, "security": "none", "username": server.user,
            "password": server.password, "folder": folder, "queue": "delivery", "idle": True, **extra}


async def stored_ids(desk) -> list[str]:
    async with desk.sessions() as s:
        return list((await s.execute(select(Message.external_id).order_by(Message.id))).scalars())


async def test_unread_mail_is_fetched_flagged_and_routed_to_the_mailboxs_queue(desk, dovecot_server, folder):
    await append(dovecot_server, folder, mail("old@example.com", "read long ago", "old.1@example.com"), r"(\Seen)")
    await append(dovecot_server, folder, mail("new@example.com", "unread", "new.1@example.com"))
    channel = email_channel(desk, email_settings(imap=[mailbox(dovecot_server, folder)]))
    assert await channel.pollers[0].run_once() == 1
    assert await stored_ids(desk) == ["new.1@example.com"]  # the first run takes unread mail only
    assert (await flags(dovecot_server, folder))["new.1@example.com"] == {"\\Seen"}
    from bot.storage.models import Queue, Ticket

    async with desk.sessions() as s:
        queue = (await s.execute(select(Queue.name).join(Ticket, Ticket.queue_id == Queue.id))).scalar_one()
    assert queue == "delivery"


async def test_mail_read_elsewhere_or_arriving_while_stopped_is_fetched_once_on_start(desk, dovecot_server, folder):
    settings = email_settings(imap=[mailbox(dovecot_server, folder)])
    await append(dovecot_server, folder, mail("a@example.com", "one", "one@example.com"))
    first = email_channel(desk, settings)
    assert await first.pollers[0].run_once() == 1
    # The desk is down: two mails arrive, one of them is read by someone in another mail client.
    await append(dovecot_server, folder, mail("b@example.com", "two", "two@example.com"), r"(\Seen)")
    await append(dovecot_server, folder, mail("c@example.com", "three", "three@example.com"))
    restarted = email_channel(desk, settings)  # a new process: only the stored cursor carries over
    assert await restarted.pollers[0].run_once() == 2
    assert await restarted.pollers[0].run_once() == 0
    assert await stored_ids(desk) == ["one@example.com", "two@example.com", "three@example.com"]


async def test_a_message_is_flagged_only_after_the_desk_committed_it(desk, dovecot_server, folder):
    seen_at_receive = []

    class Watching(DeskGateway):
        async def receive(self, message):
            seen_at_receive.append((await flags(dovecot_server, folder))[message.message_id])
            return await super().receive(message)

    await append(dovecot_server, folder, mail("a@example.com", "hi", "ack.1@example.com"))
    channel = email_channel(desk, email_settings(imap=[mailbox(dovecot_server, folder)]), gateway=Watching(desk))
    await channel.pollers[0].run_once()
    assert seen_at_receive == [set()]
    assert (await flags(dovecot_server, folder))["ack.1@example.com"] == {"\\Seen"}


async def test_a_failed_store_leaves_the_mail_unflagged_and_it_is_fetched_again(desk, dovecot_server, folder):
    class Down(DeskGateway):
        async def receive(self, message):
            raise OSError("database is down")

    settings = email_settings(imap=[mailbox(dovecot_server, folder)])
    await append(dovecot_server, folder, mail("a@example.com", "hi", "retry.1@example.com"))
    with pytest.raises(OSError):
        await email_channel(desk, settings, gateway=Down(desk)).pollers[0].run_once()
    assert (await flags(dovecot_server, folder))["retry.1@example.com"] == set()
    assert await email_channel(desk, settings).pollers[0].run_once() == 1
    assert await stored_ids(desk) == ["retry.1@example.com"]
    assert (await flags(dovecot_server, folder))["retry.1@example.com"] == {"\\Seen"}


async def test_a_changed_uidvalidity_rereads_recent_mail_and_stores_nothing_twice(desk, dovecot_server, folder):
    settings = email_settings(imap=[mailbox(dovecot_server, folder)])
    channel = email_channel(desk, settings)
    await append(dovecot_server, folder, mail("a@example.com", "one", "uv.1@example.com"))
    await channel.pollers[0].run_once()
    key = channel.pollers[0].key
    state = await channel.desk.load_state("email", key)
    await channel.desk.save_state("email", key, {**state, "uidvalidity": 1})  # as if the folder was rebuilt
    await append(dovecot_server, folder, mail("b@example.com", "two", "uv.2@example.com"))
    await channel.pollers[0].run_once()
    assert await stored_ids(desk) == ["uv.1@example.com", "uv.2@example.com"]
    assert (await channel.desk.load_state("email", key))["uidvalidity"] == state["uidvalidity"]


async def test_move_after_fetch(desk, dovecot_server, folder):
    done = f"{folder}done"
    async with imap(dovecot_server) as client:
        await client.create(done)
    await append(dovecot_server, folder, mail("a@example.com", "hi", "move.1@example.com"))
    channel = email_channel(desk, email_settings(imap=[mailbox(dovecot_server, folder, after_fetch="move", move_to=done)]))
    await channel.pollers[0].run_once()
    assert await flags(dovecot_server, folder) == {}
    assert "move.1@example.com" in await flags(dovecot_server, done)


async def test_mail_over_the_size_limit_keeps_its_headers_and_stays_in_the_mailbox(desk, dovecot_server, folder):
    await append(dovecot_server, folder, mail("big@example.com", "big", "big.1@example.com", "x" * 30_000))
    channel = email_channel(desk, email_settings(imap=[mailbox(dovecot_server, folder)], max_message_bytes=10_000))
    await channel.pollers[0].run_once()
    async with desk.sessions() as s:
        message = (await s.execute(select(Message))).scalar_one()
    assert "more than the desk's limit" in message.text and "xxxx" not in message.text


async def test_the_running_channel_takes_new_mail_as_it_arrives(desk, dovecot_server, folder):
    arrived = asyncio.Event()

    async def on_received(event):
        arrived.set()

    desk.bus.subscribe(MessageReceived, on_received)
    channel = email_channel(desk, email_settings(imap=[mailbox(dovecot_server, folder)]))
    await channel.start()
    try:
        await append(dovecot_server, folder, mail("live@example.com", "live", "live.1@example.com"))
        await asyncio.wait_for(arrived.wait(), 20)  # a guard, not a pause: IDLE wakes the poller at once
    finally:
        await channel.stop()
    assert await stored_ids(desk) == ["live.1@example.com"]
    async with desk.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == 1


async def test_a_refused_login_stops_start_up_with_the_key(desk, dovecot_server, folder):
    channel = email_channel(desk, email_settings(imap=[mailbox(dovecot_server, folder, password="wrong")]))
    with pytest.raises(ConfigError, match=r"channels\.email\.imap\.0: 127\.0\.0\.1 refused the login"):
        await channel.start()
    await channel.stop()
