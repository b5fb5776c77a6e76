"""The durable outbox: replies are delivered at least once, retried, and failures are recorded."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from bot.actions.inbox import receive_message
from bot.actions.operators import create_operator, log_in
from bot.actions.tickets import reply_to_ticket
from bot.domain import InboundMessage
from bot.errors import DeliveryError
from bot.outbox import DeliveryWorker, retry_delay
from bot.storage.models import Message, OutboxItem, utcnow


class RecordingChannel:
    """A channel at the adapter boundary that fails the first `failures` sends."""

    name = "webchat"

    def __init__(self, failures: int = 0, permanent: bool = False):
        self.failures = failures
        self.permanent = permanent
        self.sent = []

    async def start(self): ...

    async def stop(self): ...

    async def send(self, message):
        if self.failures:
            self.failures -= 1
            raise DeliveryError("the client's server said try later", permanent=self.permanent)
        self.sent.append(message)
        return f"platform-{message.message_id}"


async def ticket_with_reply(desk, text="We are on it"):
    await create_operator(desk, "anna", "Anna", "password-123", "operator", ["general"], ["en"])
    _, viewer = await log_in(desk, "anna", "password-123")
    receipt = await receive_message(desk, InboundMessage(
        channel="webchat", user_id="v1", chat_id="v1", message_id="v1:1", text="Help", sent_at=datetime.now(timezone.utc)))
    message_id = await reply_to_ticket(desk, viewer, receipt.ticket_id, text)
    return message_id


async def state(desk, message_id):
    async with desk.sessions() as s:
        message = await s.get(Message, message_id)
        item = (await s.execute(select(OutboxItem).where(OutboxItem.message_id == message_id))).scalar_one()
        return message, item


async def make_due(desk):
    async with desk.sessions() as s, s.begin():
        await s.execute(update(OutboxItem).where(OutboxItem.status == "pending").values(next_attempt_at=utcnow()))


async def test_a_reply_is_sent_through_its_channel_and_marked_sent(desk):
    message_id = await ticket_with_reply(desk)
    channel = RecordingChannel()
    assert await DeliveryWorker(desk, {"webchat": channel}).run_once() == 1
    [sent] = channel.sent
    assert sent.text == "We are on it" and sent.chat_id == "v1" and sent.author_name == "Anna"
    message, item = await state(desk, message_id)
    assert message.delivery_status == "sent" and item.status == "sent" and item.attempts == 1


async def test_a_temporary_failure_is_retried_later(desk):
    message_id = await ticket_with_reply(desk)
    channel = RecordingChannel(failures=1)
    worker = DeliveryWorker(desk, {"webchat": channel})
    before = utcnow()
    await worker.run_once()
    message, item = await state(desk, message_id)
    assert item.status == "pending" and item.last_error == "the client's server said try later"
    assert message.delivery_status == "queued"
    # Put off by the back-off (at least 80% of the first delay), not retried at once.
    assert item.next_attempt_at >= before + timedelta(seconds=0.8 * desk.settings.outbox.first_retry_seconds)
    await make_due(desk)
    await worker.run_once()
    message, item = await state(desk, message_id)
    assert item.status == "sent" and item.attempts == 2 and len(channel.sent) == 1


async def test_a_permanent_failure_is_recorded_with_its_reason(desk):
    message_id = await ticket_with_reply(desk)
    await DeliveryWorker(desk, {"webchat": RecordingChannel(failures=1, permanent=True)}).run_once()
    message, item = await state(desk, message_id)
    assert item.status == "failed" and message.delivery_status == "failed"
    assert "try later" in message.delivery_error


async def test_attempts_stop_at_the_configured_maximum(desk):
    message_id = await ticket_with_reply(desk)
    worker = DeliveryWorker(desk, {"webchat": RecordingChannel(failures=99)})
    for _ in range(desk.settings.outbox.max_attempts):
        await make_due(desk)
        await worker.run_once()
    message, item = await state(desk, message_id)
    assert item.status == "failed" and item.attempts == desk.settings.outbox.max_attempts


async def test_a_send_interrupted_by_a_crash_is_sent_again_after_the_lease(desk):
    message_id = await ticket_with_reply(desk)
    # A process claimed the item and died before recording the outcome.
    async with desk.sessions() as s, s.begin():
        await s.execute(update(OutboxItem).values(status="sending", attempts=1,
                                                  next_attempt_at=utcnow() - timedelta(seconds=1)))
    channel = RecordingChannel()
    await DeliveryWorker(desk, {"webchat": channel}).run_once()
    message, item = await state(desk, message_id)
    assert [m.message_id for m in channel.sent] == [message_id]
    assert item.status == "sent" and message.delivery_status == "sent"


async def test_a_channel_that_is_not_configured_fails_clearly(desk):
    message_id = await ticket_with_reply(desk)
    await DeliveryWorker(desk, {}).run_once()
    message, _ = await state(desk, message_id)
    assert message.delivery_status == "failed" and "not configured" in message.delivery_error


@pytest.mark.parametrize("attempts,low,high", [(1, 1.6, 2.4), (3, 6.4, 9.6), (20, 480, 720)])
def test_retry_delays_grow_and_are_capped(attempts, low, high):
    assert low <= retry_delay(attempts, first=2, ceiling=600) <= high
