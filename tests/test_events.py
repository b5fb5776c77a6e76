"""The in-process event bus: batch and plain listeners, order, failures, drain."""
from __future__ import annotations

import asyncio
import logging

from bot.events import EventBus, MessageReceived, NoteAdded, TicketChanged


async def test_a_batch_listener_hears_one_publish_as_one_list_in_order_across_types():
    bus = EventBus()
    heard: list[list] = []

    async def on_events(events):
        heard.append(list(events))

    bus.subscribe(TicketChanged, on_events, batch=True)
    bus.subscribe(NoteAdded, on_events, batch=True)
    first = [TicketChanged(ticket_id=1, what="assigned"), NoteAdded(ticket_id=1, note_id=7),
             MessageReceived(ticket_id=1, message_id=3, new_ticket=False),  # not subscribed: not heard
             TicketChanged(ticket_id=2, what="resolved")]
    bus.publish(*first)
    bus.publish(TicketChanged(ticket_id=3, what="assigned"))
    await bus.drain()
    assert heard == [[first[0], first[1], first[3]], [TicketChanged(ticket_id=3, what="assigned")]]


async def test_a_plain_listener_hears_each_event_and_a_slow_one_holds_up_nobody():
    bus = EventBus()
    heard: list[int] = []
    release = asyncio.Event()

    async def slow(event):
        if event.ticket_id == 1:
            await release.wait()  # the next event must not wait for this one
        heard.append(event.ticket_id)
        if event.ticket_id == 2:
            release.set()

    bus.subscribe(TicketChanged, slow)
    bus.publish(TicketChanged(ticket_id=1, what="a"), TicketChanged(ticket_id=2, what="b"))
    await bus.drain()
    assert heard == [2, 1]


async def test_a_failing_listener_hurts_no_other_and_drain_waits_for_all(caplog):
    bus = EventBus()
    heard: list[str] = []
    gate = asyncio.Event()

    async def broken(events):
        raise RuntimeError("boom")

    async def late(events):
        await gate.wait()
        heard.extend(e.what for e in events)

    async def opener(event):
        gate.set()

    bus.subscribe(TicketChanged, broken, batch=True)
    bus.subscribe(TicketChanged, late, batch=True)
    bus.subscribe(TicketChanged, opener)
    with caplog.at_level(logging.ERROR, logger="bot.events"):
        bus.publish(TicketChanged(ticket_id=1, what="a"), TicketChanged(ticket_id=1, what="b"))
        await bus.drain()
    assert heard == ["a", "b"]
    assert "broken" in caplog.text and "TicketChanged" in caplog.text


async def test_unsubscribed_listeners_hear_nothing():
    bus = EventBus()
    heard: list = []

    async def on_events(events):
        heard.append(events)

    bus.subscribe(TicketChanged, on_events, batch=True)
    bus.unsubscribe(TicketChanged, on_events)
    bus.publish(TicketChanged(ticket_id=1, what="a"))
    await bus.drain()
    assert heard == []
