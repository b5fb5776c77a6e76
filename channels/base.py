"""The channel adapter contract: what every door into the desk provides and receives.

Adapters import only ``bot.domain`` and their own code. The desk hands each adapter an
``Inbox`` (store a message, get a receipt) and, for channels that show clients their own
conversation, a ``ConversationReader``.
"""
from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from typing import Awaitable, Callable, Protocol, runtime_checkable

from aiohttp import web

from bot.domain import Attachment, ConversationEntry, DeliveryReport, InboundMessage, OutboundMessage, Receipt


class Inbox(Protocol):
    """Stores one inbound message in one transaction; acknowledge the source only after it returns."""

    async def __call__(self, message: InboundMessage) -> Receipt: ...


class DeskPort(Protocol):
    """What a channel may ask of the desk beyond storing messages."""

    async def receive(self, message: InboundMessage) -> Receipt: ...

    async def conversation(self, channel: str, chat_id: str, after_id: int) -> list[ConversationEntry]: ...

    async def conversations(self, channel: str, after: dict[str, int]) -> dict[str, list[ConversationEntry]]:
        """Several chats' messages, each after its own id, in one read; a page in all, so it may stop short."""

    async def late_messages(self, channel: str, chat_id: str, up_to_id: int, have: Collection[int],
                            window: int) -> list[ConversationEntry]:
        """A chat's messages among its newest ``window`` at or below ``up_to_id`` that are not in ``have``
        (stored after a newer one was shown: transactions commit in any order), oldest first."""

    async def mark_delivered(self, channel: str, chat_id: str, message_ids: Collection[int]) -> None:
        """The client's side showed these messages of ours (ids the channel carried, not a range)."""

    async def client_typing(self, channel: str, chat_id: str) -> None: ...

    async def attachment(self, channel: str, chat_id: str, attachment_id: int) -> tuple[Attachment, bytes] | None: ...

    def check_attachment(self, filename: str, content_type: str, size: int) -> None: ...

    async def report_delivery(self, report: DeliveryReport) -> Receipt | None:
        """Mark one of our sent messages failed (a bounce); None when no sent message has that id."""

    async def load_state(self, channel: str, key: str) -> dict | None:
        """A channel's durable state value (e.g. an IMAP cursor), None before the first save."""

    async def save_state(self, channel: str, key: str, value: dict) -> None:
        """Store a channel's state value durably (committed when this returns)."""

    async def add_message_parts(self, channel: str, message_id: str, text: str,
                                attachments: tuple[Attachment, ...]) -> Receipt | None:
        """Add late parts (files, text) to a stored client message; idempotent; None when it is not stored."""

    async def set_reachability(self, channel: str, user_id: str, reachable: bool, reason: str = "") -> None:
        """Record that replies can no longer reach a client (they blocked the bot), or can again."""

    async def verify_phone(self, channel: str, user_id: str, phone: str) -> None:
        """Keep a phone number (E.164) the channel vouches for as the client's verified number."""

    def singleton(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Try to hold a lock named ``name`` across the desk's processes; yields whether this one holds it."""

    async def run_alone(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run ``body()`` (a loop, until cancelled) in one of the desk's processes at a time: this one
        waits for the lock ``name``, runs it while holding it, and waits again if the lock is lost."""


@runtime_checkable
class ChannelAdapter(Protocol):
    """A channel: started and stopped with the desk, sends what the outbox hands it."""

    name: str

    async def start(self) -> None:
        """Check credentials first (fail fast on wrong ones), then begin receiving."""

    async def stop(self) -> None:
        """Undo ``start``; safe to call twice."""

    async def send(self, message: OutboundMessage) -> str:
        """Deliver one message; return the platform's message id. Raise DeliveryError on failure."""


@runtime_checkable
class WebRoutes(Protocol):
    """Optional: channels that receive over HTTP (web chat, Telegram webhooks) add routes."""

    def routes(self) -> list[web.RouteDef]: ...


@runtime_checkable
class TypingIndicator(Protocol):
    """Optional: channels that can show the client that an operator is typing."""

    async def show_typing(self, chat_id: str) -> None: ...


@runtime_checkable
class ProcessRelay(Protocol):
    """Optional: channels whose client sockets live in one desk process, when several share a database.

    The desk hands the adapter ``relay``: a call asks this adapter's twin in every other process to
    run ``relayed(note)`` (a short text, e.g. a chat id). The web chat relays each reply it sends,
    so the process holding the visitor's socket pushes it.
    """

    def set_relay(self, relay: Callable[[str], None]) -> None: ...

    async def relayed(self, note: str) -> None: ...


@runtime_checkable
class LiveConnections(Protocol):
    """Optional: channels holding long-lived client sockets close them when the server shuts down.

    The web server waits for every open request before cleanup runs, so a websocket left open
    would hold shutdown for the server's whole grace period.
    """

    async def close_connections(self) -> None: ...
