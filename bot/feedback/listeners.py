"""Small listeners that hand feedback work to actions: complaints from the complaints queue, segments."""
from __future__ import annotations

import logging

from bot.actions.complaints import complaint_from_queue
from bot.actions.context import Desk
from bot.actions.segments import recompute_for_ticket
from bot.events import Event, TicketChanged

logger = logging.getLogger(__name__)
# Ticket changes that can put a ticket into a queue, and whose doing each is. Other changes (offers,
# presence, reachability) are ignored, so they cannot race an operator's transfer and claim the complaint.
PLACING = {"transferred": "operator", "wrong_queue": "operator", "routed": "router"}
ROUTER_MOVES = ("step_", "sla_")


def placed_by(what: str) -> str | None:
    """Who put the ticket where it is, for a change that can move it; None for other changes."""
    if what in PLACING:
        return PLACING[what]
    return "router" if what.startswith(ROUTER_MOVES) else None


def complaints_queue_listener(desk: Desk):
    """A ticket that lands in the configured complaints queue becomes a registered complaint."""
    queue_name = desk.settings.feedback.complaints.queue

    async def on_ticket_changed(event: TicketChanged) -> None:
        if not queue_name or placed_by(event.what) is None or event.ticket_id is None:
            return
        reference = await complaint_from_queue(desk, event.ticket_id, queue_name, placed_by)
        if reference:
            logger.info("ticket %s reached the %s queue: complaint %s", event.ticket_id, queue_name, reference)

    return on_ticket_changed


def segment_listener(desk: Desk):
    """A survey answer, a complaint or a resolution may change the client's segment: recompute that client's."""

    async def on_feedback(event: Event) -> None:
        if event.ticket_id is not None:
            await recompute_for_ticket(desk, event.ticket_id)

    return on_feedback
