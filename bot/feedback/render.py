"""The digest as a web page, an email (HTML with PNG charts as inline images), Markdown or JSON."""
from __future__ import annotations

import json

from markupsafe import Markup, escape

from bot.dialogue.i18n import default_catalogs
from bot.feedback import charts
from bot.feedback.charts import Bar
from bot.feedback.digest import Digest
from bot.web import templates

def N_(text: str) -> str:
    """Mark a text for the catalogs; it is translated where the digest is rendered."""
    return text


CHARTS = {
    "by_category": N_("Complaints by category (grey: previous period)"),
    "by_queue": N_("Complaints by queue"),
    "by_channel": N_("Complaints by channel"),
    "csat_by_queue": N_("CSAT by queue (average score, answers)"),
    "csat_by_operator": N_("CSAT by operator (average score, answers)"),
    "sla": N_("First response within target, by queue"),
}


def _gettext(language: str):
    return default_catalogs().get(language).gettext


def _csat_color(average: float) -> str:
    return "green" if average >= 4 else "yellow" if average >= 3 else "red"


def chart_bars(digest: Digest) -> dict[str, list[Bar]]:
    """Every chart of the digest as bars (empty charts are left out)."""
    bars = {key: [Bar(c.name.replace("_", " "), c.count, c.previous) for c in getattr(digest, key)]
            for key in ("by_category", "by_queue", "by_channel")}
    for key in ("csat_by_queue", "csat_by_operator"):
        bars[key] = [Bar(c.name, c.average, text=f"{c.average:.2f} ({c.responses})", color=_csat_color(c.average))
                     for c in getattr(digest, key)]
    bars["sla"] = [Bar(q.queue, round(100 * (1 - q.share), 1), text=f"{100 * (1 - q.share):.0f}% of {q.tickets}", color=q.light)
                   for q in digest.sla if q.tickets]
    return {key: value for key, value in bars.items() if value}


def _svg_chart(bars: dict[str, list[Bar]], gettext):
    return lambda key: charts.svg(bars[key], title=gettext(CHARTS[key])) if key in bars else Markup("")


def page_context(digest: Digest, language: str = "en") -> dict:
    """What templates/digest/body.html needs, with inline SVG charts (the console page and HTML files)."""
    gettext = _gettext(language)
    return {"d": digest, "chart": _svg_chart(chart_bars(digest), gettext), "chart_titles": CHARTS, "_": gettext,
            "lang": language}


def email_html(digest: Digest, desk_name: str, url: str = "", language: str = "en") -> tuple[str, dict[str, bytes]]:
    """The email body and its PNG images by Content-ID (charts as inline images; no scripts, no SVG)."""
    gettext = _gettext(language)
    bars = chart_bars(digest)
    images = {f"{key}@helpline": charts.png(value, title=gettext(CHARTS[key])) for key, value in bars.items()}

    def chart(key: str) -> Markup:
        if key not in bars:
            return Markup("")
        return Markup(f'<img src="cid:{key}@helpline" alt="{escape(gettext(CHARTS[key]))}" width="560" '
                      'style="max-width:100%;height:auto;display:block">')

    body = templates.get_template("digest/email.html").render(d=digest, chart=chart, chart_titles=CHARTS,
                                                                desk_name=desk_name, url=url, _=gettext, lang=language)
    return body, images


def standalone_html(digest: Digest, desk_name: str, language: str = "en") -> str:
    """One self-contained HTML file (inline SVG), for `helpline digest --format html`."""
    return templates.get_template("digest/email.html").render(desk_name=desk_name, url="", **page_context(digest, language))


def _md(text: object) -> str:
    """Text in a Markdown line or table cell: HTML escaped (renderers pass raw HTML through), pipes escaped."""
    return str(escape(str(text))).replace("|", "\\|").replace("\n", " ")


def markdown(digest: Digest, desk_name: str) -> str:
    d, lines = digest, []
    t = d.totals
    lines += [f"# {_md(desk_name)}: digest, {_md(d.period['label'])}", "",
              f"Tickets opened {t['tickets_opened']}, resolved {t['tickets_resolved']}; complaints {t['complaints']} "
              f"(previous period {t['complaints_previous']}); survey answers {t['survey_answers']} of {t['surveys_sent']} sent"
              + (f", CSAT {t['csat']:.2f}, satisfied {100 * t['satisfied']:.0f}%" if t["csat"] is not None else "") + ".", ""]
    for key, title in (("by_category", "category"), ("by_queue", "queue"), ("by_channel", "channel")):
        rows = getattr(d, key)
        if rows:
            lines += [f"## Complaints by {title}", "", f"| {title} | now | before | change |", "|---|---:|---:|---:|"]
            lines += [f"| {_md(c.name)} | {c.count} | {c.previous} | {c.change:+d} |" for c in rows] + [""]
    if d.themes:
        lines += ["## Recurring complaint themes", ""]
        for theme in d.themes:
            lines.append(f"- **{_md(theme.name)}** ({theme.count}; {', '.join(theme.languages)})")
            lines += [f"  > {_md(q)}" for q in theme.quotes]
        lines.append("")
    for key, title in (("csat_by_queue", "queue"), ("csat_by_operator", "operator")):
        rows = getattr(d, key)
        if rows:
            lines += [f"## CSAT by {title}", "", f"| {title} | answers | average | satisfied |", "|---|---:|---:|---:|"]
            lines += [f"| {_md(c.name)} | {c.responses} | {c.average:.2f} | {100 * c.satisfied:.0f}% |" for c in rows] + [""]
    if d.sla:
        lines += ["## SLA: first response within target", "", "| queue | light | tickets | breached | open now red / yellow |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {_md(q.queue)} | {q.light} | {q.tickets} | {q.breached} | {q.red_now} / {q.yellow_now} |" for q in d.sla] + [""]
    if d.overdue:
        lines += ["## Overdue complaints", ""]
        lines += [f"- {o['reference']} ({_md(o['category'])}, {o['severity']}), due {o['due']}, {o['days_over']} day(s) over, "
                  f"queue {_md(o['queue'])}, owner {_md(o['owner'] or '-')}" for o in d.overdue] + [""]
    if d.at_risk:
        lines += ["## Loyal clients at risk", ""]
        for item in d.at_risk:
            lines.append(f"- {_md(item['name'])}: " + "; ".join(f"#{e['ticket']} {e['what']}" for e in item["events"]))
        lines.append("")
    if d.unanswered:
        lines += ["## The bot's top unanswered questions", ""]
        lines += [f"- {_md(u['question'])} ({u['count']}×; {', '.join(u['languages'])})" for u in d.unanswered] + [""]
    return "\n".join(lines)


def as_json(digest: Digest) -> str:
    return json.dumps(digest.as_dict(), ensure_ascii=False, indent=2)
