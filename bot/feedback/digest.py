"""The managers' digest for a period: complaints and their themes, CSAT, SLA lights, overdue complaints, clients
at risk, the bot's unanswered questions. Figures come from SQL aggregates (bot/storage/digest_queries.py);
only quotes and timings are read as rows.
"""
from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from bot.actions.context import Desk
from bot.feedback.periods import Period
from bot.feedback.words import Masker, quote
from bot.storage import digest_queries as dq
from router.rules import keyword_pattern
from router.text import fold, strip_diacritics, transliterate

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


async def _complaint_counts(s, dimension: str, period: Period) -> list[Count]:
    current = await dq.complaint_counts(s, dimension, period)
    previous = await dq.complaint_counts(s, dimension, period.previous)
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
    rows = await dq.complaint_texts(s, period, MAX_THEME_ROWS)
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


async def _csat_by(s, dimension: str, period: Period) -> list[Csat]:
    return _csat(await dq.csat_rows(s, dimension, period))


async def _sla(s, desk: Desk, period: Period, now: datetime) -> list[QueueSla]:
    """First responses to tickets opened in the period against the target; the breach share sets the light."""
    config = desk.settings.feedback.digest
    target = timedelta(minutes=config.first_response_minutes)
    rows = await dq.first_responses(s, period)
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
    for queue, level, count in await dq.sla_levels_now(s):
        now_levels[queue][level] += count
    out = []
    for queue in sorted(set(totals) | set(now_levels)):
        share = breached[queue] / totals[queue] if totals[queue] else 0.0
        light = "red" if share >= config.sla_red else "yellow" if share >= config.sla_yellow else "green"
        out.append(QueueSla(queue, totals[queue], breached[queue], light, now_levels[queue][2], now_levels[queue][1]))
    return sorted(out, key=lambda q: ({"red": 0, "yellow": 1, "green": 2}[q.light], -q.share, q.queue))


async def _overdue(s, now: datetime, zone) -> list[dict]:
    rows = await dq.overdue_complaints(s, now, limit=50)
    return [{"reference": r, "category": c, "severity": sev, "due": due.astimezone(zone).strftime("%Y-%m-%d"),
             "days_over": (now - due).days, "queue": q, "owner": owner or "", "ticket": number}
            for r, c, sev, due, q, owner, number in rows]


async def _at_risk(s, desk: Desk, period: Period, masker: Masker) -> list[dict]:
    """Loyal clients who gave a low score or complained in the period."""
    surveys, complaints = await dq.loyal_unhappy(s, period, desk.settings.feedback.survey.low_score)
    found: dict[int, dict] = {}
    for client_id, score, comment, number in surveys:
        item = found.setdefault(client_id, {"client_id": client_id, "events": []})
        item["events"].append({"ticket": number, "kind": "score", "value": score, "what": f"score {score}",
                               "quote": quote(comment, masker, 120)})
    for client_id, reference, summary, number in complaints:
        item = found.setdefault(client_id, {"client_id": client_id, "events": []})
        item["events"].append({"ticket": number, "kind": "complaint", "value": reference,
                               "what": f"complaint {reference}", "quote": quote(summary, masker, 120)})
    if found:
        names = await dq.client_names(s, list(found))
        for client_id, item in found.items():
            item["name"] = masker(names.get(client_id) or "") or f"Client {client_id}"
    return sorted(found.values(), key=lambda i: (-len(i["events"]), i["client_id"]))[:25]


async def _unanswered(s, period: Period, masker: Masker) -> list[dict]:
    rows = await dq.unanswered_questions(s, period, MAX_THEME_ROWS)
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
        counts = await dq.totals(s, period)
        answers = counts["answers"]
        digest = Digest(
            period={"label": period.label, "kind": period.kind, "first_day": period.first_day.isoformat(),
                    "last_day": period.last_day.isoformat(), "previous": period.previous.label},
            totals={"tickets_opened": counts["opened"], "tickets_resolved": counts["resolved"],
                    "complaints": counts["complaints"], "complaints_previous": counts["complaints_previous"],
                    "surveys_sent": counts["surveys_sent"], "survey_answers": answers[0],
                    "csat": round(float(answers[1]) / answers[0], 2) if answers[0] else None,
                    "satisfied": round(float(answers[2]) / answers[0], 3) if answers[0] else None},
            by_category=await _complaint_counts(s, "category", period),
            by_queue=await _complaint_counts(s, "queue", period),
            by_channel=await _complaint_counts(s, "channel", period),
            themes=await _themes(s, desk, period, masker),
            csat_by_queue=await _csat_by(s, "queue", period),
            csat_by_operator=await _csat_by(s, "operator", period),
            sla=await _sla(s, desk, period, now),
            overdue=await _overdue(s, now, zone),
            at_risk=await _at_risk(s, desk, period, masker),
            unanswered=await _unanswered(s, period, masker),
            generated_at=now.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        )
    return digest
