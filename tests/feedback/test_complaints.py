"""The complaints register: reference acknowledged at once, life cycle with the client's notifications, pages."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.actions.complaints import edit_complaint, mark_complaint, move_complaint
from bot.actions.tickets import transfer_ticket
from bot.errors import InvalidInput, NotFound
from bot.storage.models import AuditEvent, Complaint, Message, utcnow
from tests.feedback.conftest import client_writes, operator

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _system_texts(desk, ticket_id: int) -> list[str]:
    async with desk.sessions() as s:
        return list((await s.execute(select(Message.text).where(Message.ticket_id == ticket_id, Message.author_kind == "system")
                                     .order_by(Message.id))).scalars())


async def test_a_complaint_is_acknowledged_with_its_reference_and_moves_through_its_life_cycle(fdesk):
    anna = await operator(fdesk, "anna", queues=("general",))
    olga = await operator(fdesk, "olga", role="supervisor", queues=("general",))
    receipt = await client_writes(fdesk, "Der Kurier war unhöflich und das Paket kam zu spät", locale="de")
    reference = await mark_complaint(fdesk, anna, receipt.ticket_id)
    assert reference == "C-1001"
    assert await mark_complaint(fdesk, anna, receipt.ticket_id) == reference  # one open complaint per ticket
    async with fdesk.sessions() as s:
        complaint = (await s.execute(select(Complaint))).scalar_one()
    assert (complaint.status, complaint.source, complaint.category, complaint.severity, complaint.owner_id) == (
        "received", "operator", "rude_staff", "medium", olga.id)
    assert complaint.due_at - complaint.created_at == timedelta(days=5)
    ack, = await _system_texts(fdesk, receipt.ticket_id)
    assert "Beschwerde unter der Nummer C-1001" in ack  # in the client's language, at once

    with pytest.raises(NotFound):  # an operator who does not own it does not even see it
        await move_complaint(fdesk, anna, reference, "investigating")
    with pytest.raises(InvalidInput, match="can go to investigating, resolved"):
        await move_complaint(fdesk, olga, reference, "closed")
    await move_complaint(fdesk, olga, reference, "investigating")
    with pytest.raises(InvalidInput, match="resolution summary is empty"):
        await move_complaint(fdesk, olga, reference, "resolved", "  ")
    await edit_complaint(fdesk, olga, reference, severity="high", category="delivery_delay", owner="anna")
    await move_complaint(fdesk, olga, reference, "resolved", "We refunded the delivery fee and spoke to the courier.")
    await move_complaint(fdesk, olga, reference, "closed")
    with pytest.raises(InvalidInput, match="is closed; it cannot change any more"):
        await move_complaint(fdesk, olga, reference, "investigating")

    texts = await _system_texts(fdesk, receipt.ticket_id)
    assert "C-1001" in texts[-1] and "refunded the delivery fee" in texts[-1]
    async with fdesk.sessions() as s:
        complaint = (await s.execute(select(Complaint))).scalar_one()
        moves = [(e["from"], e["to"]) for e in (await s.execute(
            select(AuditEvent.data).where(AuditEvent.kind == "complaint_status").order_by(AuditEvent.id))).scalars()]
    assert (complaint.status, complaint.severity, complaint.category, complaint.owner_id) == ("closed", "high", "delivery_delay", anna.id)
    assert complaint.resolved_at and complaint.closed_at
    assert moves == [("received", "investigating"), ("investigating", "resolved"), ("resolved", "closed")]
    # A new complaint on the same ticket is possible once the first is closed.
    assert await mark_complaint(fdesk, anna, receipt.ticket_id, "Again late") == "C-1002"


async def test_a_ticket_transferred_to_the_complaints_queue_becomes_a_complaint(fserver):
    anna = await operator(fserver.desk, "anna", queues=("general",))
    receipt = await client_writes(fserver.desk, "I want to complain: my refund never came")
    await fserver.desk.bus.drain()  # the router has placed the new ticket; now the operator moves it
    await transfer_ticket(fserver.desk, anna, receipt.ticket_id, queue="complaints")
    await fserver.desk.bus.drain()
    async with fserver.desk.sessions() as s:
        complaint = (await s.execute(select(Complaint))).scalar_one()
    assert (complaint.source, complaint.category) == ("operator", "billing_error")
    assert "C-1001" in (await _system_texts(fserver.desk, receipt.ticket_id))[0]


async def test_the_register_filters_marks_overdue_in_red_escapes_and_is_for_supervisors(fserver):
    desk = fserver.desk
    anna = await operator(desk, "anna", queues=("general",))
    await operator(desk, "olga", role="supervisor", queues=("general",))
    late = await client_writes(desk, "<img src=x onerror=alert(1)> parcel is late", user="c1")
    rude = await client_writes(desk, "Your agent was rude", user="c2")
    first = await mark_complaint(desk, anna, late.ticket_id)
    await mark_complaint(desk, anna, rude.ticket_id)
    async with desk.sessions() as s, s.begin():
        await s.execute(update(Complaint).where(Complaint.reference == first).values(due_at=utcnow() - timedelta(hours=1)))

    async with await fserver.logged_in("olga") as http:
        async with http.get(f"{fserver.url}/console/complaints") as r:
            page = await r.text()
        assert r.status == 200
        assert re.search(r'class="complaint-row overdue" data-reference="C-1001"', page)
        assert 'class="complaint-row" data-reference="C-1002"' in page
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        async with http.get(f"{fserver.url}/console/complaints?overdue=1&status=open") as r:
            page = await r.text()
        assert "C-1001" in page and "C-1002" not in page
        async with http.get(f"{fserver.url}/console/complaints?category=rude_staff") as r:
            page = await r.text()
        assert "C-1002" in page and "C-1001" not in page

        async with http.get(f"{fserver.url}/console/complaints/C-1002") as r:
            csrf = CSRF.search(await r.text()).group(1)
        async with http.post(f"{fserver.url}/console/complaints/C-1002/status",
                             data={"csrf_token": csrf, "status": "resolved", "resolution": "Apologies <b>sent</b>."}) as r:
            page = await r.text()
        assert r.status == 200 and "Apologies &lt;b&gt;sent&lt;/b&gt;." in page and 'id="complaint-status">resolved' in page
        async with http.get(f"{fserver.url}/console/complaints/C-9999") as r:
            assert r.status == 404
    async with await fserver.logged_in("anna") as http:
        async with http.get(f"{fserver.url}/console/complaints") as r:
            assert r.status == 403


async def test_an_operator_marks_a_complaint_from_the_ticket_page(fserver):
    desk = fserver.desk
    await operator(desk, "anna", queues=("general",))
    receipt = await client_writes(desk, "The app crashes at checkout, awful")
    async with desk.sessions() as s:
        from bot.storage.models import Ticket
        number = (await s.get(Ticket, receipt.ticket_id)).number
    async with await fserver.logged_in("anna") as http:
        async with http.get(f"{fserver.url}/console/tickets/{number}") as r:
            page = await r.text()
        assert 'id="feedback-card"' in page and "Register as a complaint" in page
        async with http.post(f"{fserver.url}/console/tickets/{number}/complaint",
                             data={"csrf_token": CSRF.search(page).group(1), "severity": "high", "category": ""}) as r:
            page = await r.text()
        assert r.status == 200 and "C-1001" in page and "app error" in page
        async with http.post(f"{fserver.url}/console/tickets/{number}/complaint", data={"csrf_token": "forged"}) as r:
            assert r.status == 403


async def test_complaints_of_other_queues_are_not_found_for_a_supervisor(fdesk):
    anna = await operator(fdesk, "anna", queues=("general",))
    bob = await operator(fdesk, "bob", role="supervisor", queues=("billing",))
    receipt = await client_writes(fdesk, "Terrible service")
    reference = await mark_complaint(fdesk, anna, receipt.ticket_id)
    with pytest.raises(NotFound):
        await move_complaint(fdesk, bob, reference, "investigating")
