"""The dialogue worker: answers client messages on tickets the bot holds, after each commit and at start.

MessageReceived only wakes it; what to answer comes from the database (a client message newer
than the dialogue's ``last_message_id``), so a message stored just before a crash is answered
by the first pass after the restart, and one stored by another process by the periodic pass.
A pass answers all waiting tickets in one transaction; if that fails, it answers them one by one
so that one broken ticket never keeps the bot from everyone else.
"""
from __future__ import annotations

import asyncio
import logging

from bot.actions.context import Desk
from bot.actions.selfservice import answer_ticket, answer_tickets, hand_off_abandoned, tickets_waiting_for_bot
from bot.dialogue.flow import SelfService
from bot.events import MessageReceived
from bot.workers import PassLoop

logger = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 5.0
ABANDONED_CHECK_SECONDS = 60.0
SUSPECTS_KEPT = 1000
# A pass's tickets (tickets_waiting_for_bot reads 50) in one transaction: fewer statements a ticket (dialogue
# alone, 300 tickets, SQLite: 1.8 -> 1.4 ms CPU a ticket against 20), still short enough (tens of ms) that
# the inbox gets SQLite's write lock between two transactions of the bot.
TICKETS_PER_TRANSACTION = 50


class DialogueWorker:
    def __init__(self, desk: Desk, service: SelfService):
        self.desk = desk
        self.service = service
        # One process answers (passes are not safe to run twice at once); again at once while there is work.
        self._loop = PassLoop("dialogue", lambda: self.run_once(),
                              lambda answered: 0 if answered else IDLE_POLL_SECONDS, singleton="self-service")
        # One pass at a time in this process (SQLite has no row locks to keep two apart).
        self._pass = asyncio.Lock()
        self._next_abandoned_check = 0.0
        # Tickets that failed on their own: answered alone until they succeed, so they do not sink every batch.
        # Only a speed-up: forgetting it (a restart) costs one failed batch.
        self._suspects: set[int] = set()

    async def on_messages_received(self, _events: list[MessageReceived]) -> None:
        self._loop.wake()

    async def start(self) -> None:
        self.desk.bus.subscribe(MessageReceived, self.on_messages_received, everywhere=True, batch=True)
        self._loop.start(self.desk.sessions.kw["bind"])

    async def stop(self) -> None:
        self.desk.bus.unsubscribe(MessageReceived, self.on_messages_received)
        await self._loop.stop()

    async def run_once(self) -> int:
        """Answer every ticket with unanswered client messages; returns how many tickets moved on."""
        async with self._pass:
            waiting = await tickets_waiting_for_bot(self.desk)
            alone = [t for t in waiting if t in self._suspects]
            batch = [t for t in waiting if t not in self._suspects]
            moved = 0
            for start in range(0, len(batch), TICKETS_PER_TRANSACTION):
                moved += await self._answer_together(batch[start:start + TICKETS_PER_TRANSACTION])
            for ticket_id in alone:
                moved += await self._answer_alone(ticket_id)
            # A client who left in the middle of a form is not left waiting for nobody (checked once a minute).
            clock = asyncio.get_running_loop().time()
            if clock >= self._next_abandoned_check:
                self._next_abandoned_check = clock + ABANDONED_CHECK_SECONDS
                moved += await hand_off_abandoned(self.desk, self.service)
            return moved

    async def _answer_together(self, ticket_ids: list[int]) -> int:
        try:
            return await answer_tickets(self.desk, self.service, ticket_ids)
        except Exception:
            if len(ticket_ids) == 1:
                self._suspect(ticket_ids[0])
                return 0
            logger.exception("answering %d tickets together failed; answering them one by one", len(ticket_ids))
        moved = 0
        for ticket_id in ticket_ids:
            moved += await self._answer_alone(ticket_id)
        return moved

    async def _answer_alone(self, ticket_id: int) -> int:
        try:
            moved = await answer_ticket(self.desk, self.service, ticket_id)
        except Exception:
            self._suspect(ticket_id)
            return 0
        self._suspects.discard(ticket_id)
        return int(moved)

    def _suspect(self, ticket_id: int) -> None:
        # One broken ticket must not stop the bot for everyone else; it is retried next pass.
        logger.exception("the bot could not answer ticket %s", ticket_id)
        if len(self._suspects) < SUSPECTS_KEPT:
            self._suspects.add(ticket_id)

    async def settle(self) -> None:
        """Pass until nothing is left to answer (tests and shutdown use it to wait for the bot)."""
        while await self.run_once():
            pass
