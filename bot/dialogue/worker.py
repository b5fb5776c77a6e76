"""The dialogue worker: answers client messages on tickets the bot holds, after each commit and at start.

MessageReceived only wakes it; what to answer comes from the database (a client message newer
than the dialogue's ``last_message_id``), so a message stored just before a crash is answered
by the first pass after the restart, and one stored by another process by the periodic pass.
"""
from __future__ import annotations

import asyncio
import logging

from bot.actions.context import Desk
from bot.actions.selfservice import answer_ticket, hand_off_abandoned, tickets_waiting_for_bot
from bot.dialogue.flow import SelfService
from bot.events import MessageReceived
from bot.storage.singleton import run_alone
from bot.workers import cancel_task, wait_for_wake

logger = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 5.0
ABANDONED_CHECK_SECONDS = 60.0


class DialogueWorker:
    def __init__(self, desk: Desk, service: SelfService):
        self.desk = desk
        self.service = service
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        # One pass at a time in this process (SQLite has no row locks to keep two apart).
        self._pass = asyncio.Lock()
        self._next_abandoned_check = 0.0

    async def on_message_received(self, _event: MessageReceived) -> None:
        self._wake.set()

    async def start(self) -> None:
        self.desk.bus.subscribe(MessageReceived, self.on_message_received, everywhere=True)
        engine = self.desk.sessions.kw["bind"]  # one process answers (passes are not safe to run twice at once)
        self._task = asyncio.get_running_loop().create_task(run_alone(engine, "self-service", self._run), name="dialogue")

    async def stop(self) -> None:
        self.desk.bus.unsubscribe(MessageReceived, self.on_message_received)
        await cancel_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                answered = await self.run_once()
            except Exception:
                logger.exception("dialogue pass failed; retrying shortly")
                answered = 0
            if answered:
                continue
            await wait_for_wake(self._wake, IDLE_POLL_SECONDS)

    async def run_once(self) -> int:
        """Answer every ticket with unanswered client messages; returns how many tickets moved on."""
        async with self._pass:
            moved = 0
            for ticket_id in await tickets_waiting_for_bot(self.desk):
                try:
                    if await answer_ticket(self.desk, self.service, ticket_id):
                        moved += 1
                except Exception:
                    # One broken ticket must not stop the bot for everyone else; it is retried next pass.
                    logger.exception("the bot could not answer ticket %s", ticket_id)
            # A client who left in the middle of a form is not left waiting for nobody (checked once a minute).
            clock = asyncio.get_running_loop().time()
            if clock >= self._next_abandoned_check:
                self._next_abandoned_check = clock + ABANDONED_CHECK_SECONDS
                moved += await hand_off_abandoned(self.desk, self.service)
            return moved

    async def settle(self) -> None:
        """Pass until nothing is left to answer (tests and shutdown use it to wait for the bot)."""
        while await self.run_once():
            pass
