"""The desk as channels see it: the DeskPort of channels/base.py, built on actions and queries."""
from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Awaitable, Callable

from bot.actions.context import Desk
from bot.actions.channel_state import save_channel_state
from bot.actions.chat_history import late_messages
from bot.actions.delivery import mark_delivered, record_delivery_report
from bot.actions.identities import set_reachability, verify_phone
from bot.actions.inbox import receive_message
from bot.actions.message_parts import add_message_parts
from bot.domain import Attachment, ConversationEntry, DeliveryReport, InboundMessage, Receipt
from bot.events import ClientTyping
from bot.storage import queries
from bot.storage.locks import singleton_lock
from bot.storage.singleton import run_alone


class DeskGateway:
    """Implements channels.base.DeskPort; channels never touch storage themselves."""

    def __init__(self, desk: Desk):
        self.desk = desk

    async def receive(self, message: InboundMessage) -> Receipt:
        return await receive_message(self.desk, message)

    async def conversation(self, channel: str, chat_id: str, after_id: int) -> list[ConversationEntry]:
        async with self.desk.sessions() as s:
            return await queries.conversation(s, channel, chat_id, after_id)

    async def conversations(self, channel: str, after: dict[str, int]) -> dict[str, list[ConversationEntry]]:
        async with self.desk.sessions() as s:
            return await queries.conversations(s, channel, after)

    async def late_messages(self, channel: str, chat_id: str, up_to_id: int, have: Collection[int],
                            window: int) -> list[ConversationEntry]:
        return await late_messages(self.desk, channel, chat_id, up_to_id, have, window)

    async def mark_delivered(self, channel: str, chat_id: str, message_ids: Collection[int]) -> None:
        await mark_delivered(self.desk, channel, chat_id, message_ids)

    async def client_typing(self, channel: str, chat_id: str) -> None:
        async with self.desk.sessions() as s:
            ticket_id = await queries.latest_ticket_id(s, channel, chat_id)
        if ticket_id is not None:
            self.desk.bus.publish(ClientTyping(ticket_id=ticket_id))

    async def attachment(self, channel: str, chat_id: str, attachment_id: int) -> tuple[Attachment, bytes] | None:
        async with self.desk.sessions() as s:
            stored = await queries.attachment_for_chat(s, channel, chat_id, attachment_id)
        if stored is None:
            return None
        meta = Attachment(stored.filename, stored.content_type, stored.size, storage_key=stored.storage_key, id=stored.id)
        return meta, self.desk.files.read(stored.storage_key)

    def check_attachment(self, filename: str, content_type: str, size: int) -> None:
        self.desk.files.check(filename, content_type, size)

    async def report_delivery(self, report: DeliveryReport) -> Receipt | None:
        return await record_delivery_report(self.desk, report)

    async def load_state(self, channel: str, key: str) -> dict | None:
        async with self.desk.sessions() as s:
            return await queries.channel_state(s, channel, key)

    async def save_state(self, channel: str, key: str, value: dict) -> None:
        await save_channel_state(self.desk, channel, key, value)

    async def add_message_parts(self, channel: str, message_id: str, text: str,
                                attachments: tuple[Attachment, ...]) -> Receipt | None:
        return await add_message_parts(self.desk, channel, message_id, text, attachments)

    async def set_reachability(self, channel: str, user_id: str, reachable: bool, reason: str = "") -> None:
        await set_reachability(self.desk, channel, user_id, reachable, reason)

    async def verify_phone(self, channel: str, user_id: str, phone: str) -> None:
        await verify_phone(self.desk, channel, user_id, phone)

    def singleton(self, name: str) -> AbstractAsyncContextManager[bool]:
        return singleton_lock(self.desk.sessions.kw["bind"], name)

    async def run_alone(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        await run_alone(self.desk.sessions.kw["bind"], name, body)
