"""Routing figures for `python -m bench`: assignment time at scale and the classifier's cross-validated macro-F1.

Assignment: 10,000 open tickets (half held, half waiting) and 1,000 operators across the demo
queues, in a fresh SQLite database; each measured call is the whole assignment transaction
(`assign_ticket`): take the ticket, read the queue's operators and loads, choose, lock the
operator, count again, write; the choice alone (`preview_assignment`, the same reads without the
writes) is measured on the same tickets. The pure policy among 1,000 candidates is measured too.
`python -m bench.routing [--database-url URL] [--samples N]` prints these figures alone.
"""
from __future__ import annotations

import random
import sys
import statistics
import time
from datetime import timedelta
from pathlib import Path

from router.assign import Candidate, QueuePolicy, TicketFacts, choose_operator

# The desk's storage and actions are imported where used: `--cv` (run beside another part) needs only router/.

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "routing" / "dev.csv"
OPEN_TICKETS = 10_000
OPERATORS = 1_000
CHANNELS = ("webchat", "telegram", "email")
LANGUAGES = ("en", "ru", "hu", "lv", "de", "uk")
DEMO_QUEUES = ("billing", "delivery", "returns", "tech", "sales", "complaints")  # besides "general"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def fill(desk, rng: random.Random) -> list[int]:
    """Operators, clients and open tickets written in Core batches (the ORM's bulk insert went row by row,
    ten seconds on a loaded machine); returns the waiting tickets' ids."""
    from sqlalchemy import insert, select, text

    from bot.storage.models import Client, Operator, Queue, Ticket, operator_queues, utcnow

    now = utcnow()
    async with desk.sessions() as s, s.begin():
        await s.execute(insert(Queue.__table__), [{"name": q, "title": q} for q in DEMO_QUEUES])
        queues = [qid for (qid,) in await s.execute(select(Queue.id))]
        await s.execute(insert(Operator.__table__), [
            {"username": f"op{i}", "display_name": f"Operator {i}", "password_hash": "", "role": "operator",
             "languages": ["en", rng.choice(LANGUAGES)], "active": True, "created_at": now, "status": "online",
             "status_at": now, "seen_at": now, "capacity": {"webchat": 4, "telegram": 4, "email": 10},
             "last_assigned_at": now - timedelta(seconds=rng.randint(0, 3600))} for i in range(OPERATORS)])
        ops = [oid for (oid,) in await s.execute(select(Operator.id))]
        await s.execute(insert(operator_queues), [
            {"operator_id": oid, "queue_id": qid, "level": rng.choice((1, 1, 2))}
            for oid in ops for qid in rng.sample(queues, 2)])
        await s.execute(insert(Client.__table__), [{"display_name": f"c{i}", "email": "", "phone": "", "language": "en",
                                          "created_at": now} for i in range(OPEN_TICKETS)])
        clients = [cid for (cid,) in await s.execute(select(Client.id))]
        rows = []
        for i, cid in enumerate(clients):
            held = i % 2 == 0
            rows.append({"number": 100_000 + i, "public_id": f"bench-{i}", "client_id": cid, "channel": rng.choice(CHANNELS),
                         "chat_id": str(cid), "status": "open", "queue_id": rng.choice(queues),
                         "assignee_id": rng.choice(ops) if held else None, "priority": rng.choice(("normal", "normal", "high")),
                         "language": rng.choice(LANGUAGES), "subject": "", "created_at": now, "updated_at": now,
                         "last_message_at": now, "handed_off_at": now - timedelta(seconds=i), "routed_at": now,
                         "queued_at": now, "version": 0})
        for start in range(0, len(rows), 1000):
            await s.execute(insert(Ticket.__table__), rows[start:start + 1000])
        waiting = [tid for (tid,) in await s.execute(select(Ticket.id).where(Ticket.assignee_id.is_(None)))]
    if s.bind.dialect.name == "postgresql":
        # A running desk's tables are analyzed by autovacuum; freshly filled ones would be planned blind.
        async with desk.sessions() as s, s.begin():  # committed: ANALYZE's statistics roll back with a transaction
            await s.execute(text("ANALYZE"))
    return waiting


async def assignment_times(desk, samples: int) -> tuple[float, float]:
    """p50 and p99 of the whole assignment transaction, in milliseconds."""
    return (await assignment_figures(desk, samples, with_choice=False))["transaction"]


async def expected_choice(desk, ticket_id: int, now) -> int | None:
    """The pure policy's choice among every present operator of the ticket's queue with their exact
    loads, read without pages or indexes: what the paged decision must agree with."""
    from sqlalchemy import select

    from bot.routing_settings import capacity_of, queue_policy
    from bot.storage import routing_queries as rq
    from bot.storage.models import Queue, Ticket

    async with desk.sessions() as s:
        ticket, queue = (await s.execute(select(Ticket, Queue.name).join(Queue, Queue.id == Ticket.queue_id)
                                         .where(Ticket.id == ticket_id))).one()
        grace = desk.settings.router.assignment.presence_grace_seconds
        rows = await rq.operator_rows(s, ticket.queue_id, now, grace)
        loads = await rq.loads(s, now, queue_id=ticket.queue_id)
    facts = TicketFacts(ticket.id, queue, ticket.channel, ticket.language, ticket.priority, None, ticket.relaxed)
    candidates = [Candidate(op_id, level or 1, frozenset(languages or ()), capacity_of(desk.settings, capacity),
                            loads.get(op_id, {}), "online", last) for op_id, level, languages, capacity, last in rows]
    choice = choose_operator(facts, candidates, queue_policy(desk.settings, queue))
    return choice.id if choice else None


async def assignment_figures(desk, samples: int, with_choice: bool = True) -> dict[str, tuple[float, float]]:
    """p50/p99 in ms of the whole assignment transaction and, when asked, of choosing an operator
    (the read-only decision: ticket, facts, operators and loads, policy) just before it; every
    fifth choice is checked against the policy over the queue's every operator (untimed)."""
    from bot.actions.assignment import assign_ticket, preview_assignment
    from bot.storage.models import utcnow

    rng = random.Random(7)
    waiting = await fill(desk, rng)
    rng.shuffle(waiting)
    chosen, whole = [], []
    for i, ticket_id in enumerate(waiting[:samples]):
        if with_choice:
            now = utcnow()
            started = time.perf_counter()
            operator = await preview_assignment(desk, ticket_id, now)
            chosen.append((time.perf_counter() - started) * 1000)
            if i % 5 == 0 and operator != (expected := await expected_choice(desk, ticket_id, now)):
                raise RuntimeError(f"ticket {ticket_id}: the desk chose operator {operator}, the policy {expected}")
        started = time.perf_counter()
        await assign_ticket(desk, ticket_id)
        whole.append((time.perf_counter() - started) * 1000)
    figures = {"transaction": percentiles(whole)}
    if with_choice:
        figures["choice"] = percentiles(chosen)
    return figures


def choice_times(samples: int) -> tuple[float, float]:
    """The pure policy: one ticket against 1,000 candidate snapshots, in microseconds."""
    from bot.storage.models import utcnow

    rng = random.Random(3)
    now = utcnow()
    candidates = [Candidate(i, rng.choice((1, 2)), frozenset(("en", rng.choice(LANGUAGES))),
                            {"webchat": 4, "email": 10}, {"webchat": rng.randint(0, 4)}, "online",
                            now - timedelta(seconds=rng.randint(0, 3600))) for i in range(OPERATORS)]
    times = []
    for i in range(samples):
        ticket = TicketFacts(i, "delivery", "webchat", rng.choice(LANGUAGES), "normal", now)
        started = time.perf_counter()
        choose_operator(ticket, candidates, QueuePolicy())
        times.append((time.perf_counter() - started) * 1e6)
    return percentiles(times)


def cross_validated_macro_f1(folds: int = 5) -> float | None:
    """5-fold cross-validated macro-F1 of the classifier pipeline on dev.csv (None: the file is absent)."""
    from router.classifier import cross_validated_predictions
    from router.data import read_examples
    from router.evaluate import score

    if not DEV.exists():
        return None
    import sklearn.linear_model  # noqa: F401 (loads SciPy's BLAS first: threadpoolctl limits only what is loaded)
    from threadpoolctl import threadpool_limits

    examples = read_examples(DEV)
    labels = [e.queue for e in examples]
    # One fold after another with one BLAS thread: OpenBLAS's two threads made each L-BFGS step about four
    # times the CPU on this small problem (0.67 against 0.16 s a fit), and process workers (joblib) paid a
    # scikit-learn import each. The same predictions (macro-F1 0.579), 1.4 s of CPU instead of about 6.
    with threadpool_limits(1):
        predicted = cross_validated_predictions([e.text for e in examples], labels, folds)
    return score(labels, predicted).macro_f1


def demo_router_macro_f1() -> float | None:
    """The shipped demo router (rules + model, never trained on dev.csv) scored on dev.csv."""
    from bot.cli_router import build_router
    from bot.config import load_settings
    from router.data import read_examples
    from router.evaluate import score

    if not DEV.exists():
        return None
    router, _ = build_router(load_settings())
    examples = read_examples(DEV)
    decisions = [router.route(e.text, language=e.language) for e in examples]
    return score([e.queue for e in examples], [d.queue for d in decisions]).macro_f1


async def _main(url: str, samples: int) -> None:
    from bench.__main__ import private_desk

    async with private_desk(url or None, "bench_routing") as desk:
        print(f"filling {OPEN_TICKETS:,} open tickets and {OPERATORS:,} operators, then {samples} assignments...",
              file=sys.stderr)
        figures = await assignment_figures(desk, samples)
    for name, (p50, p99) in figures.items():
        print(f"{name:<12} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")


if __name__ == "__main__":
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(prog="python -m bench.routing", description="assignment time at scale")
    parser.add_argument("--database-url", default="", help="PostgreSQL server to measure on (in a database of its own beside the named one)")
    parser.add_argument("--samples", type=int, default=500, help="waiting tickets to assign (default 500)")
    parser.add_argument("--cv", action="store_true", help="print only the classifier's 5-fold CV macro-F1 "
                        "(JSON; null without dev.csv), as `python -m bench` runs it beside another part")
    args = parser.parse_args()
    if args.cv:
        import json

        print(json.dumps(cross_validated_macro_f1()))
    else:
        asyncio.run(_main(args.database_url, args.samples))
