"""The managers' digest for a period: complaints and their themes, CSAT, SLA lights, overdue complaints, clients
at risk, the bot's unanswered questions. Figures come from SQL aggregates; only quotes and timings are read as rows.
"""
from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from bot.actions.context import Desk
from bot.feedback.periods import Period
from bot.feedback.words import Masker, quote
from bot.storage.models import (
    Client, ClientSegment, Complaint, Message, Operator, Queue, Survey, Ticket, TicketSla, UnansweredQuestion,
)
from router.rules import keyword_pattern
from router.text import fold, strip_diacritics, transliterate

OPEN_COMPLAINT = ("received", "investigating")
MAX_THEME_ROWS = 20_000


@dataclass
class Count:
    name: str
    count: int
    previous: int

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass
class Theme:
    name: str
    count: int
    languages: list[str]
    quotes: list[str]


@dataclass
class Csat:
    name: str
    responses: int
    average: float
    satisfied: float  # share of 4 and 5


@dataclass
class QueueSla:
    queue: str
    tickets: int
    breached: int
    light: str  # green, yellow, red (the period's share of breaches)
    red_now: int = 0  # open tickets the router's SLA clocks show red (or yellow) right now
    yellow_now: int = 0

    @property
    def share(self) -> float:
        return self.breached / self.tickets if self.tickets else 0.0


@dataclass
class Digest:
    period: dict
    totals: dict
    by_category: list[Count]
    by_queue: list[Count]
    by_channel: list[Count]
    themes: list[Theme]
    csat_by_queue: list[Csat]
    csat_by_operator: list[Csat]
    sla: list[QueueSla]
    overdue: list[dict]
    at_risk: list[dict]
    unanswered: list[dict]
    generated_at: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("by_category", "by_queue", "by_channel"):
            for item, obj in zip(data[key], getattr(self, key)):
                item["change"] = obj.change
        for item, obj in zip(data["sla"], self.sla):
            item["share"] = round(obj.share, 4)
        return data


def _in(column, period: Period):
    return (column >= period.start) & (column < period.end)


async def _complaint_counts(s, column, period: Period) -> list[Count]:
    current = dict((await s.execute(select(column, func.count(Complaint.id)).join(Queue, Queue.id == Complaint.queue_id)
                                    .where(_in(Complaint.created_at, period)).group_by(column))).all())
    previous = dict((await s.execute(select(column, func.count(Complaint.id)).join(Queue, Queue.id == Complaint.queue_id)
                                     .where(_in(Complaint.created_at, period.previous)).group_by(column))).all())
    names = set(current) | set(previous)
    return sorted((Count(n, current.get(n, 0), previous.get(n, 0)) for n in names), key=lambda c: (-c.count, -c.previous, c.name))


def _fold(text: str) -> str:
    """The keyword view of a text (as router.text.fold, without its masking: themes need no numbers)."""
    return strip_diacritics(transliterate(unicodedata.normalize("NFKC", text).lower()))


def _theme_patterns(desk: Desk):
    return [(t.name, keyword_pattern([w for words in t.keywords.values() for w in words]))
            for t in desk.settings.feedback.digest.themes]


async def _themes(s, desk: Desk, period: Period, masker: Masker) -> list[Theme]:
    """Complaints grouped by theme words of every language at once; the rest by their category."""
    rows = (await s.execute(select(Complaint.summary, Complaint.language, Complaint.category)
                            .where(_in(Complaint.created_at, period)).order_by(Complaint.id).limit(MAX_THEME_ROWS))).all()
    patterns = _theme_patterns(desk)
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    seen: dict[tuple[str, str], str] = {}  # complaints repeat each other word for word more often than not
    for summary, language, category in rows:
        name = seen.get((summary, category))
        if name is None:
            folded = _fold(summary or "")
            name = next((n for n, p in patterns if p.search(folded)), None) or f"Other: {category.replace('_', ' ')}"
            seen[(summary, category)] = name
        groups[name].append((summary, language))
    per_theme = desk.settings.feedback.digest.quotes_per_theme
    themes = []
    for name, items in groups.items():
        # One quote per language first, so a theme is seen to span them; then fill up in order.
        quotes: list[str] = []
        languages_quoted: set[str] = set()
        for first_pass in (True, False):
            for text, language in items:
                if len(quotes) >= per_theme:
                    break
                if first_pass and language in languages_quoted:
                    continue
                masked = quote(text, masker)
                if masked not in quotes:
                    quotes.append(masked)
                    languages_quoted.add(language)
        themes.append(Theme(name, len(items), sorted({lang or "?" for _, lang in items}), quotes))
    return sorted(themes, key=lambda t: (t.name.startswith("Other:"), -t.count, t.name))


def _csat(rows) -> list[Csat]:
    out = [Csat(name or "(none)", n, round(float(total) / n, 2), round(float(good) / n, 3)) for name, n, total, good in rows if n]
    return sorted(out, key=lambda c: (-c.responses, c.name))


async def _csat_by(s, name_column, join, period: Period) -> list[Csat]:
    query = (select(name_column, func.count(Survey.id), func.sum(Survey.score), func.sum(case((Survey.score >= 4, 1), else_=0)))
             .outerjoin(*join).where(Survey.score.is_not(None), _in(Survey.answered_at, period)).group_by(name_column))
    return _csat((await s.execute(query)).all())


async def _sla(s, desk: Desk, period: Period, now: datetime) -> list[QueueSla]:
    """First responses to tickets opened in the period against the target; the breach share sets the light."""
    config = desk.settings.feedback.digest
    target = timedelta(minutes=config.first_response_minutes)
    in_period = select(Ticket.id).where(_in(Ticket.created_at, period))
    first_reply = (select(Message.ticket_id, func.min(Message.created_at).label("at"))
                   .where(Message.ticket_id.in_(in_period), Message.direction == "out", Message.author_kind == "operator")
                   .group_by(Message.ticket_id).subquery())
    rows = await s.execute(select(Queue.name, Ticket.created_at, first_reply.c.at)
                           .join(Queue, Queue.id == Ticket.queue_id)
                           .outerjoin(first_reply, first_reply.c.ticket_id == Ticket.id)
                           .where(_in(Ticket.created_at, period)))
    totals, breached = Counter(), Counter()
    horizon = min(now, period.end)
    for queue, created, answered in rows:
        totals[queue] += 1
        if created.tzinfo is None:  # SQLite returns the subquery's aggregate without our type
            created = created.replace(tzinfo=period.start.tzinfo)
        if isinstance(answered, str):
            answered = datetime.fromisoformat(answered)
        if answered is not None and answered.tzinfo is None:
            answered = answered.replace(tzinfo=period.start.tzinfo)
        if (answered or horizon) - created > target:
            breached[queue] += 1
    now_levels: dict[str, Counter] = defaultdict(Counter)
    for queue, level, count in await s.execute(
            select(Queue.name, TicketSla.level, func.count(TicketSla.ticket_id)).join(Ticket, Ticket.id == TicketSla.ticket_id)
            .join(Queue, Queue.id == Ticket.queue_id).where(Ticket.status.in_(("new", "open", "waiting")), TicketSla.level > 0)
            .group_by(Queue.name, TicketSla.level)):
        now_levels[queue][level] += count
    out = []
    for queue in sorted(set(totals) | set(now_levels)):
        share = breached[queue] / totals[queue] if totals[queue] else 0.0
        light = "red" if share >= config.sla_red else "yellow" if share >= config.sla_yellow else "green"
        out.append(QueueSla(queue, totals[queue], breached[queue], light, now_levels[queue][2], now_levels[queue][1]))
    return sorted(out, key=lambda q: ({"red": 0, "yellow": 1, "green": 2}[q.light], -q.share, q.queue))


async def _overdue(s, now: datetime, zone) -> list[dict]:
    rows = await s.execute(select(Complaint.reference, Complaint.category, Complaint.severity, Complaint.due_at,
                                  Queue.name, Operator.display_name, Ticket.number)
                           .join(Queue, Queue.id == Complaint.queue_id).join(Ticket, Ticket.id == Complaint.ticket_id)
                           .outerjoin(Operator, Operator.id == Complaint.owner_id)
                           .where(Complaint.status.in_(OPEN_COMPLAINT), Complaint.due_at < now)
                           .order_by(Complaint.due_at).limit(50))
    return [{"reference": r, "category": c, "severity": sev, "due": due.astimezone(zone).strftime("%Y-%m-%d"),
             "days_over": (now - due).days, "queue": q, "owner": owner or "", "ticket": number}
            for r, c, sev, due, q, owner, number in rows]


async def _at_risk(s, desk: Desk, period: Period, masker: Masker) -> list[dict]:
    """Loyal clients who gave a low score or complained in the period."""
    low = desk.settings.feedback.survey.low_score
    loyal = select(ClientSegment.client_id).where(ClientSegment.segment == "loyal")
    surveys = await s.execute(select(Survey.client_id, Survey.score, Survey.comment, Ticket.number)
                              .join(Ticket, Ticket.id == Survey.ticket_id)
                              .where(Survey.client_id.in_(loyal), Survey.score <= low, _in(Survey.answered_at, period)))
    complaints = await s.execute(select(Complaint.client_id, Complaint.reference, Complaint.summary, Ticket.number)
                                 .join(Ticket, Ticket.id == Complaint.ticket_id)
                                 .where(Complaint.client_id.in_(loyal), _in(Complaint.created_at, period)))
    found: dict[int, dict] = {}
    for client_id, score, comment, number in surveys:
        item = found.setdefault(client_id, {"client_id": client_id, "events": []})
        item["events"].append({"ticket": number, "what": f"score {score}", "quote": quote(comment, masker, 120)})
    for client_id, reference, summary, number in complaints:
        item = found.setdefault(client_id, {"client_id": client_id, "events": []})
        item["events"].append({"ticket": number, "what": f"complaint {reference}", "quote": quote(summary, masker, 120)})
    if found:
        names = dict((await s.execute(select(Client.id, Client.display_name).where(Client.id.in_(list(found))))).all())
        for client_id, item in found.items():
            item["name"] = masker(names.get(client_id) or "") or f"Client {client_id}"
    return sorted(found.values(), key=lambda i: (-len(i["events"]), i["client_id"]))[:25]


async def _unanswered(s, period: Period, masker: Masker) -> list[dict]:
    rows = await s.execute(select(UnansweredQuestion.question, UnansweredQuestion.language)
                           .where(_in(UnansweredQuestion.created_at, period)).limit(MAX_THEME_ROWS))
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for question, language in rows:
        key = " ".join(fold(masker(question or "")).split())[:120]
        if key:
            groups[key].append((question, language))
    top = sorted(groups.values(), key=lambda g: (-len(g), g[0][0]))[:10]
    return [{"question": quote(g[0][0], masker, 160), "count": len(g), "languages": sorted({lang or "?" for _, lang in g})}
            for g in top]


async def build_digest(desk: Desk, period: Period, now: datetime) -> Digest:
    """Every figure of the digest for one period (and the previous one, for trends)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(desk.settings.desk.time_zone)
    masker = Masker.of(desk.settings.feedback.digest.masks)
    async with desk.sessions() as s:
        opened = (await s.execute(select(func.count(Ticket.id)).where(_in(Ticket.created_at, period)))).scalar_one()
        resolved = (await s.execute(select(func.count(Ticket.id)).where(_in(Ticket.resolved_at, period)))).scalar_one()
        complaints_now = (await s.execute(select(func.count(Complaint.id)).where(_in(Complaint.created_at, period)))).scalar_one()
        complaints_before = (await s.execute(select(func.count(Complaint.id)).where(_in(Complaint.created_at, period.previous)))).scalar_one()
        sent = (await s.execute(select(func.count(Survey.id)).where(_in(Survey.sent_at, period)))).scalar_one()
        answers = (await s.execute(select(func.count(Survey.id), func.sum(Survey.score), func.sum(case((Survey.score >= 4, 1), else_=0)))
                                   .where(Survey.score.is_not(None), _in(Survey.answered_at, period)))).one()
        digest = Digest(
            period={"label": period.label, "first_day": period.first_day.isoformat(), "last_day": period.last_day.isoformat(),
                    "previous": period.previous.label},
            totals={"tickets_opened": opened, "tickets_resolved": resolved, "complaints": complaints_now,
                    "complaints_previous": complaints_before, "surveys_sent": sent, "survey_answers": answers[0],
                    "csat": round(float(answers[1]) / answers[0], 2) if answers[0] else None,
                    "satisfied": round(float(answers[2]) / answers[0], 3) if answers[0] else None},
            by_category=await _complaint_counts(s, Complaint.category, period),
            by_queue=await _complaint_counts(s, Queue.name, period),
            by_channel=await _complaint_counts(s, Complaint.channel, period),
            themes=await _themes(s, desk, period, masker),
            csat_by_queue=await _csat_by(s, Queue.name, (Queue, Queue.id == Survey.queue_id), period),
            csat_by_operator=await _csat_by(s, Operator.display_name, (Operator, Operator.id == Survey.operator_id), period),
            sla=await _sla(s, desk, period, now),
            overdue=await _overdue(s, now, zone),
            at_risk=await _at_risk(s, desk, period, masker),
            unanswered=await _unanswered(s, period, masker),
            generated_at=now.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        )
    return digest
