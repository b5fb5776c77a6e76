"""`helpline demo seed`: a realistic month of a desk (languages, channels, complaints, surveys, SLA breaches).

Rows go in with batched Core inserts (tens of thousands of tickets take seconds, not minutes);
the figures are random but repeatable for a given seed.
"""
from __future__ import annotations

import random
import secrets
from collections import Counter, defaultdict
from itertools import accumulate
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import insert, select, update

from bot.actions.context import Desk
from bot.actions.segments import pin_segment, recompute_segments
from bot.actions.setup import seed_demo_operators
from bot.feedback.seed_texts import (
    CHANNELS, COMMENTS_LOW, LANGUAGES, NAMES, REPLIES, TOPICS, UNANSWERED, WEIGHTS,
)
from bot.storage.models import (
    ChannelIdentity, Client, Complaint, Counter as CounterRow, FollowUp, Message, Operator, Queue, Survey, Ticket,
    UnansweredQuestion, operator_queues, utcnow,
)

BATCH = 500
SEVERITY = {"low": 25, "medium": 50, "high": 20, "critical": 5}
SLOW_QUEUES = {"delivery": 4.0, "returns": 1.8}  # first responses this many times slower: their lights go red


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _fill(rng: random.Random, text: str) -> str:
    return text.format(order=f"NW-{rng.randint(100000, 999999)}", email=f"client{rng.randint(10, 999)}@example.com",
                       phone=f"+371 2{rng.randint(1000000, 9999999)}", card=f"4111 1111 1111 {rng.randint(1000, 9999)}")


async def _reserve(s, name: str, count: int) -> int:
    """Take `count` numbers from a counter; returns the first."""
    last = (await s.execute(update(CounterRow).where(CounterRow.name == name).values(value=CounterRow.value + count)
                            .returning(CounterRow.value))).scalar_one()
    return last - count + 1


async def _insert(s, model, rows: list[dict]) -> list[int]:
    """Insert rows; returns their ids in the rows' order."""
    if not rows:
        return []
    table = model.__table__  # Core, not the ORM's bulk path: several times faster for plain rows
    if s.bind.dialect.name == "sqlite":
        # SQLite promises no order of RETURNING rows, so with sort_by_parameter_order SQLAlchemy sends one
        # statement a row (6,000 for 3,000 tickets); unordered it batches, and sorting restores the order
        # (as bot/storage/bulk.py: rowids grow in insertion order while this transaction holds the write lock).
        return sorted((await s.execute(insert(table).returning(table.c.id), rows)).scalars())
    result = await s.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


async def seed_demo(desk: Desk, *, days: int = 30, tickets: int = 2000, seed: int = 7, now: datetime | None = None,
                    progress: Callable[[str], None] = lambda _line: None) -> dict:
    """Fill the desk with `tickets` tickets over the last `days` days; returns what was made."""
    now, rng = now or utcnow(), random.Random(seed)
    settings = desk.settings
    await seed_demo_operators(desk)
    async with desk.sessions() as s:
        queues = dict((await s.execute(select(Queue.name, Queue.id))).all())
        staff = (await s.execute(select(operator_queues.c.queue_id, Operator.id, Operator.role)
                                 .join(Operator, Operator.id == operator_queues.c.operator_id)
                                 .where(Operator.active.is_(True)))).all()
        anyone = list((await s.execute(select(Operator.id).where(Operator.active.is_(True)))).scalars())
    workers, supervisors = defaultdict(list), defaultdict(list)
    for queue_id, operator_id, role in staff:
        (supervisors if role == "supervisor" else workers)[queue_id].append(operator_id)
    default_queue = queues[settings.desk.default_queue]
    made = Counter()

    async with desk.sessions() as s, s.begin():
        client_count = max(5, tickets // 3)
        languages = [_pick(rng, LANGUAGES) for _ in range(client_count)]
        client_ids = await _insert(s, Client, [
            {"display_name": rng.choice(NAMES[lang]), "email": "", "phone": "", "language": lang,
             "created_at": now - timedelta(days=days + rng.randint(1, 300))} for lang in languages])
        channels = [_pick(rng, CHANNELS) for _ in client_ids]
        await s.execute(insert(ChannelIdentity.__table__), [
            {"client_id": cid, "channel": ch, "external_id": f"seed-{secrets.token_hex(8)}", "display_name": "",
             "claimed_email": "", "verified": False, "unreachable": False, "unreachable_reason": "",
             "created_at": now - timedelta(days=days)} for cid, ch in zip(client_ids, channels)])
        made["clients"] = len(client_ids)
        first_number = await _reserve(s, "ticket_number", tickets)
        first_reference = await _reserve(s, "complaint_number", tickets)
    progress(f"{len(client_ids)} clients")

    # Returning clients write more often: a few write many times.
    cumulative = list(accumulate(rng.paretovariate(1.5) for _ in client_ids))
    queue_names = {q: n for n, q in queues.items()}
    complaint_no = first_reference
    for start in range(0, tickets, BATCH):
        count = min(BATCH, tickets - start)
        async with desk.sessions() as s, s.begin():
            plan, rows = [], []
            for i in range(count):
                k = rng.choices(range(len(client_ids)), cum_weights=cumulative)[0]
                lang, topic = languages[k], _pick(rng, WEIGHTS)
                queue_name, category, texts = TOPICS[topic]
                queue_id = queues.get(queue_name, default_queue)
                text = _fill(rng, rng.choice(texts.get(lang) or texts["en"]))
                created = now - timedelta(seconds=rng.uniform(0, days * 86400))
                delay = timedelta(minutes=rng.lognormvariate(2.8, 0.9) * SLOW_QUEUES.get(queue_name, 1.0))
                resolved = created + delay + timedelta(hours=rng.uniform(0.5, 30))
                operator = rng.choice(workers.get(queue_id) or anyone or [None])
                done = resolved < now
                plan.append((k, lang, topic, category, queue_id, text, created, delay, resolved, operator, done))
                rows.append({"number": first_number + start + i, "public_id": secrets.token_urlsafe(18),
                             "client_id": client_ids[k], "channel": channels[k], "chat_id": f"seed-{k}",
                             "status": "resolved" if done else rng.choice(["open", "waiting", "new"]),
                             "queue_id": queue_id, "assignee_id": operator, "priority": "normal", "language": lang,
                             "subject": text[:120], "source": "seed", "created_at": created, "updated_at": min(now, resolved),
                             "last_message_at": min(now, created + delay), "resolved_at": resolved if done else None})
            ticket_ids = await _insert(s, Ticket, rows)
            messages, surveys, complaints, unanswered = [], [], [], []
            for ticket_id, (k, lang, topic, category, queue_id, text, created, delay, resolved, operator, done) in zip(ticket_ids, plan):
                messages.append({"ticket_id": ticket_id, "channel": channels[k], "direction": "in", "author_kind": "client",
                                 "operator_id": None, "text": text, "delivery_status": "received", "created_at": created,
                                 "external_id": f"seed-{ticket_id}"})
                if created + delay < now or done:
                    messages.append({"ticket_id": ticket_id, "channel": channels[k], "direction": "out", "author_kind": "operator",
                                     "operator_id": operator, "text": REPLIES[lang], "delivery_status": "delivered",
                                     "created_at": created + delay, "external_id": None})
                if category and rng.random() < 0.65:
                    severity = _pick(rng, SEVERITY)
                    opened = created + timedelta(minutes=5)
                    due = opened + timedelta(days=settings.feedback.complaints.due_days[severity])
                    status = ("closed" if rng.random() < 0.8 else "investigating") if due < now else \
                        rng.choice(["received", "investigating", "investigating", "resolved"])
                    complaints.append({
                        "reference": f"C-{complaint_no}", "ticket_id": ticket_id, "client_id": client_ids[k], "queue_id": queue_id,
                        "channel": channels[k], "language": lang, "category": category, "severity": severity, "status": status,
                        "source": rng.choice(["router", "operator", "operator", "survey"]),
                        "owner_id": rng.choice(supervisors.get(queue_id) or [operator]), "summary": text,
                        "resolution": "We apologised and put it right." if status in ("resolved", "closed") else "",
                        "due_at": due, "created_at": opened, "updated_at": opened,
                        "resolved_at": min(now, opened + timedelta(days=1)) if status in ("resolved", "closed") else None,
                        "closed_at": min(now, opened + timedelta(days=2)) if status == "closed" else None})
                    complaint_no += 1
                if done and rng.random() < 0.7:
                    sent = resolved + timedelta(minutes=30)
                    answered = rng.random() < 0.55 and sent < now
                    bad = (category is not None) + (SLOW_QUEUES.get(queue_names.get(queue_id, ""), 1) > 1)
                    score = max(1, min(5, round(rng.gauss(4.5 - 0.9 * bad, 0.9)))) if answered else None
                    comment = rng.choice(COMMENTS_LOW.get(lang, COMMENTS_LOW["en"])) if score and score <= 2 and rng.random() < 0.6 else ""
                    surveys.append({"ticket_id": ticket_id, "client_id": client_ids[k], "status": "answered" if answered else "sent",
                                    "due_at": sent, "attempts": 0, "channel": channels[k], "queue_id": queue_id,
                                    "operator_id": operator, "language": lang, "sent_at": sent, "expires_at": sent + timedelta(days=7),
                                    "score": score, "comment": comment, "answered_at": sent + timedelta(hours=2) if answered else None,
                                    "answered_via": ("link" if channels[k] == "email" else "chat") if answered else "",
                                    "skip_reason": "", "created_at": resolved})
                if topic == "question" and rng.random() < 0.3:
                    ulang, question = rng.choice(UNANSWERED)
                    unanswered.append({"ticket_id": ticket_id, "language": ulang, "question": question, "kind": "no_match",
                                       "article": "", "score": 0.0, "created_at": created})
            await s.execute(insert(Message.__table__), messages)
            survey_ids = await _insert(s, Survey, surveys)
            if complaints:
                await s.execute(insert(Complaint.__table__), complaints)
            if unanswered:
                await s.execute(insert(UnansweredQuestion.__table__), unanswered)
            follow_ups = [{"ticket_id": sv["ticket_id"], "survey_id": sid, "queue_id": sv["queue_id"], "reason": "low_score",
                           "detail": f"score {sv['score']}" + (f": {sv['comment']}" if sv["comment"] else ""),
                           "status": "done" if sv["answered_at"] < now - timedelta(days=3) else "open",
                           "created_at": sv["answered_at"], "outcome": "Called the client.", "done_at": None}
                          for sid, sv in zip(survey_ids, surveys) if sv["score"] is not None and sv["score"] <= 2]
            if follow_ups:
                await s.execute(insert(FollowUp.__table__), follow_ups)
        made["tickets"] += count
        made["messages"] += len(messages)
        made["surveys_sent"] += len(surveys)
        made["survey_answers"] += sum(1 for sv in surveys if sv["score"] is not None)
        made["complaints"] += len(complaints)
        made["overdue"] += sum(1 for c in complaints if c["status"] in ("received", "investigating") and c["due_at"] < now)
        made["follow_ups"] += len(follow_ups)
        made["unanswered"] += len(unanswered)
        progress(f"tickets {made['tickets']}/{tickets}")

    made["segments_changed"] = await recompute_segments(desk, now=now)
    # A few valued clients, pinned as loyal VIPs by "an admin": some had a bad week (the digest's clients at risk).
    async with desk.sessions() as s:
        unhappy = list((await s.execute(select(Survey.client_id).where(
            Survey.score <= 2, Survey.answered_at >= now - timedelta(days=14)).distinct().limit(3))).scalars())
        happy = list((await s.execute(select(Survey.client_id).where(Survey.score == 5).distinct().limit(3))).scalars())
    for client_id in dict.fromkeys(unhappy + happy):
        await pin_segment(desk, client_id, segment="loyal", add_tags=["VIP"], source="import", reason="demo: key account")
        made["vip"] += 1
    progress("segments computed")
    return dict(made)
