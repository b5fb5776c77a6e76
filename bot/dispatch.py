"""The routing worker: places handed-off tickets, hands out backlogs, moves offers and steps on, fires SLA steps.

Listeners react at once after a commit (a hand-off, a freed seat, a new message); the loop's pass
does the same work from the rows themselves, so whatever a crash interrupted is picked up on the
next pass. Every step is safe to run in several processes at once: rows are taken with
`SKIP LOCKED` on PostgreSQL and written with conditional updates (bot/actions/assignment.py).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from bot.actions.assignment import (
    apply_step_timeouts, assign_backlog, assign_tickets, expire_offers, expire_presence, mark_present, requeue,
)
from bot.actions.context import Desk
from bot.actions.routing import route_tickets, tickets_to_route
from bot.actions.sla import fire_due, next_due, reconcile, sync_ticket_sla, sync_tickets_sla
from bot.events import MessageReceived, TicketChanged, TicketHandedOff
from bot.routing_settings import self_service_holds_new_tickets
from bot.storage.models import utcnow
from bot.storage.queries import next_offer_expiry
from bot.workers import PassLoop
from router.routing import TicketRouter

logger = logging.getLogger(__name__)
# Changes that may free a seat or put a ticket back in a queue: look at the backlogs again.
WAKE_ON = {"resolved", "reopened", "transferred", "offer_rejected", "offer_expired", "returned", "step_relax",
           "step_fallback", "operator_online", "operator_away", "operator_offline", "sla_yellow", "sla_red"}
# Changes after which the SLA clocks read differently.
RESYNC_ON = {"replied", "resolved", "reopened", "transferred", "client_answered"}


class Coalescer:
    """Runs `work(ids)` on whatever ids were submitted while the previous run was busy; one id once a run.

    `submit` returns after a run that started after the submission has finished, so a caller (and
    bus.drain()) still waits for its own work.
    """

    def __init__(self, work: Callable[[set[int]], Awaitable[None]]):
        self.work = work
        self._pending: dict[int, list[asyncio.Future]] = {}
        self._worker: asyncio.Task | None = None

    async def submit(self, *items: int) -> None:
        if not items:
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        for item in items:
            self._pending.setdefault(item, []).append(done)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run())
        await asyncio.shield(done)

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await self.work(set(batch))
            except Exception:
                logger.exception("a batch of %d failed", len(batch))
            finally:
                for futures in batch.values():
                    for done in futures:
                        if not done.done():
                            done.set_result(None)


class RoutingWorker:
    """One per process; `run_once(now)` is the whole durable pass (tests call it with their own clock)."""

    def __init__(self, desk: Desk, router: TicketRouter | None = None,
                 present: Callable[[], Iterable[int]] = lambda: ()):
        self.desk = desk
        self.router = router
        self.present = present
        # The timers (offers, SLA clocks, backlog) run in one desk process; the listeners in every one.
        self._loop = PassLoop("routing", lambda: self.run_once(), self._pause, singleton="routing")
        self._sla_batch = Coalescer(lambda ids: sync_tickets_sla(desk, ids))
        # New tickets that arrive together (one group commit of the inbox) are routed together.
        self._placements = Coalescer(lambda ids: self._place_many(ids))
        self._subscriptions = ((TicketHandedOff, self._on_handed_off), (MessageReceived, self._on_messages),
                               (TicketChanged, self._on_changed))
        for event_type, listener in self._subscriptions:
            desk.bus.subscribe(event_type, listener, batch=listener == self._on_messages)
        # The timers run in one process: wake it from whichever process the change happened in.
        desk.bus.subscribe(TicketChanged, self._wake_on_change, everywhere=True)

    # --- listeners: react right after a commit ---

    async def _on_handed_off(self, event: TicketHandedOff) -> None:
        await self.place(event.ticket_id)

    async def _on_messages(self, events: list[MessageReceived]) -> None:
        """A commit's messages at once: new tickets are placed, the others' SLA clocks synced together."""
        placing = not self_service_holds_new_tickets(self.desk.settings)
        new = [e.ticket_id for e in events if e.new_ticket and placing]
        others = [e.ticket_id for e in events if not (e.new_ticket and placing)]
        await asyncio.gather(*(self.place(ticket_id) for ticket_id in new), self._sla_batch.submit(*others))

    async def _on_changed(self, event: TicketChanged) -> None:
        if event.ticket_id is not None and event.what == "transferred":
            await requeue(self.desk, event.ticket_id)
        if event.ticket_id is not None and event.what in RESYNC_ON:
            await sync_ticket_sla(self.desk, event.ticket_id)
        if event.what in WAKE_ON:
            self._loop.wake()

    async def _wake_on_change(self, event: TicketChanged) -> None:
        if event.what in WAKE_ON:
            self._loop.wake()

    async def place(self, ticket_id: int, now: datetime | None = None) -> None:
        """Route a handed-off ticket and try to give it to an operator at once; returns once it is done.

        Tickets placed while a placement runs wait for the next one and share it (one classifier
        call, one routing transaction); a caller's own clock (`now`) gets a placement of its own.
        """
        if self.router is None:  # the model is still loading: the pass after it loads routes it
            self._loop.wake()
            return
        if now is not None:
            await self._place_many({ticket_id}, now)
        else:
            await self._placements.submit(ticket_id)

    async def _place_many(self, ticket_ids: set[int], now: datetime | None = None) -> None:
        await route_tickets(self.desk, self.router, ticket_ids, now)
        await assign_tickets(self.desk, ticket_ids, now)

    # --- the durable pass ---

    async def run_once(self, now: datetime | None = None) -> datetime | None:
        """Do everything that is due at `now`; returns when something will next be due (None: nothing known)."""
        now = now or utcnow()
        await mark_present(self.desk, self.present(), now)
        await expire_presence(self.desk, now)
        if self.router is not None:
            await route_tickets(self.desk, self.router, await tickets_to_route(self.desk), now)
        await expire_offers(self.desk, now)
        await apply_step_timeouts(self.desk, now)
        await assign_backlog(self.desk, now)
        await reconcile(self.desk, now)
        await fire_due(self.desk, now)
        return await self._next_moment()

    async def _next_moment(self) -> datetime | None:
        async with self.desk.sessions() as s:
            offer = await next_offer_expiry(s)
        deadline = await next_due(self.desk)
        return min((m for m in (offer, deadline) if m is not None), default=None)

    # --- lifecycle ---

    async def start(self) -> None:
        self._loop.start(self.desk.sessions.kw["bind"])

    async def stop(self) -> None:
        for event_type, listener in self._subscriptions:
            self.desk.bus.unsubscribe(event_type, listener)
        self.desk.bus.unsubscribe(TicketChanged, self._wake_on_change)
        await self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    def _pause(self, upcoming: datetime | None) -> float:
        """Until the next due moment, but never longer than the poll interval: a wall-clock jump is
        noticed within one interval, and due rows are compared with the clock anew."""
        poll = self.desk.settings.router.assignment.poll_seconds
        if upcoming is None:
            return poll
        return min(poll, max(0.05, (upcoming - utcnow()).total_seconds()))
