"""The digest as a web page, an email (HTML with PNG charts as inline images), Markdown or JSON."""
from __future__ import annotations

import json
from datetime import date

from babel.dates import format_date
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
WEEK = N_("week of {first} – {last}")


def _gettext(language: str):
    return default_catalogs().get(language).gettext


def _english(text: str, **values) -> str:
    return text.format(**values) if values else text


def event_words(event: dict, gettext=_english) -> str:
    """What a loyal client at risk did, in the reader's language ("score 2", "complaint C-12")."""
    if event.get("kind") == "score":
        return gettext("score {score}", score=event["value"])
    if event.get("kind") == "complaint":
        return gettext("complaint {reference}", reference=event["value"])
    return event.get("what", "")


def _csat_color(average: float) -> str:
    return "green" if average >= 4 else "yellow" if average >= 3 else "red"


def period_label(period: dict, language: str = "en") -> str:
    """The digest period's name in `language`: a week or a month in words, any other span by its dates."""
    kind = period.get("kind", "")
    if kind == "week":
        return _gettext(language)(WEEK, first=period["first_day"], last=period["last_day"])
    if kind == "month":
        return format_date(date.fromisoformat(period["first_day"]), "LLLL y", locale=language)
    return period["label"]


def chart_bars(digest: Digest, gettext=_english) -> dict[str, list[Bar]]:
    """Every chart of the digest as bars (empty charts are left out)."""
    bars = {key: [Bar(c.name.replace("_", " "), c.count, c.previous) for c in getattr(digest, key)]
            for key in ("by_category", "by_queue", "by_channel")}
    for key in ("csat_by_queue", "csat_by_operator"):
        bars[key] = [Bar(c.name, c.average, text=f"{c.average:.2f} ({c.responses})", color=_csat_color(c.average))
                     for c in getattr(digest, key)]
    bars["sla"] = [Bar(q.queue, round(100 * (1 - q.share), 1), text=gettext("{share}% of {count}", share=f"{100 * (1 - q.share):.0f}", count=q.tickets),
                       color=q.light)
                   for q in digest.sla if q.tickets]
    return {key: value for key, value in bars.items() if value}


def _svg_chart(bars: dict[str, list[Bar]], gettext):
    return lambda key: charts.svg(bars[key], title=gettext(CHARTS[key])) if key in bars else Markup("")


def page_context(digest: Digest, language: str = "en") -> dict:
    """What templates/digest/body.html needs, with inline SVG charts (the console page and HTML files)."""
    gettext = _gettext(language)
    return {"d": digest, "chart": _svg_chart(chart_bars(digest, gettext), gettext), "chart_titles": CHARTS, "_": gettext,
            "lang": language, "period_label": period_label(digest.period, language)}


def email_html(digest: Digest, desk_name: str, url: str = "", language: str = "en") -> tuple[str, dict[str, bytes]]:
    """The email body and its PNG images by Content-ID (charts as inline images; no scripts, no SVG)."""
    gettext = _gettext(language)
    bars = chart_bars(digest, gettext)
    images = {f"{key}@helpline": charts.png(value, title=gettext(CHARTS[key])) for key, value in bars.items()}

    def chart(key: str) -> Markup:
        if key not in bars:
            return Markup("")
        return Markup(f'<img src="cid:{key}@helpline" alt="{escape(gettext(CHARTS[key]))}" width="560" '
                      'style="max-width:100%;height:auto;display:block">')

    body = templates.get_template("digest/email.html").render(d=digest, chart=chart, chart_titles=CHARTS,
                                                                desk_name=desk_name, url=url, _=gettext, lang=language,
                                                                period_label=period_label(digest.period, language))
    return body, images


def standalone_html(digest: Digest, desk_name: str, language: str = "en") -> str:
    """One self-contained HTML file (inline SVG), for `helpline digest --format html`."""
    return templates.get_template("digest/email.html").render(desk_name=desk_name, url="", **page_context(digest, language))


def _md(text: object) -> str:
    """Text in a Markdown line or table cell: HTML escaped (renderers pass raw HTML through), pipes escaped."""
    return str(escape(str(text))).replace("|", "\\|").replace("\n", " ")


def markdown(digest: Digest, desk_name: str, language: str = "en") -> str:
    """The digest as Markdown (the plain-text part of the email), in `language`."""
    _ = value = _gettext(language)  # value(): a stored word (severity) through the catalog
    d, lines = digest, []
    t = d.totals
    lines += ["# " + _("{desk}: digest, {period}", desk=_md(desk_name), period=_md(period_label(d.period, language))), "",
              _("Tickets opened {opened}, resolved {resolved}; complaints {complaints} (previous period {previous}); "
                "survey answers {answers} of {sent} sent", opened=t["tickets_opened"], resolved=t["tickets_resolved"],
                complaints=t["complaints"], previous=t["complaints_previous"], answers=t["survey_answers"],
                sent=t["surveys_sent"])
              + (_(", CSAT {csat}, satisfied {share}%", csat=f"{t['csat']:.2f}", share=f"{100 * t['satisfied']:.0f}")
                 if t["csat"] is not None else "") + ".", ""]
    for key, title, column in (("by_category", N_("Complaints by category"), N_("Category")),
                               ("by_queue", N_("Complaints by queue"), N_("Queue")),
                               ("by_channel", N_("Complaints by channel"), N_("Channel"))):
        rows = getattr(d, key)
        if rows:
            lines += [f"## {_(title)}", "", f"| {_(column)} | {_('now')} | {_('before')} | {_('change')} |", "|---|---:|---:|---:|"]
            lines += [f"| {_md(c.name)} | {c.count} | {c.previous} | {c.change:+d} |" for c in rows] + [""]
    if d.themes:
        lines += [f"## {_('Recurring complaint themes')}", ""]
        for theme in d.themes:
            lines.append(f"- **{_md(theme.name)}** ({theme.count}; {', '.join(theme.languages)})")
            lines += [f"  > {_md(q)}" for q in theme.quotes]
        lines.append("")
    for key, column in (("csat_by_queue", N_("Queue")), ("csat_by_operator", N_("Operator"))):
        rows = getattr(d, key)
        if rows:
            lines += [f"## {_(CHARTS[key])}", "", f"| {_(column)} | {_('answers')} | {_('average')} | {_('satisfied')} |",
                      "|---|---:|---:|---:|"]
            lines += [f"| {_md(c.name)} | {c.responses} | {c.average:.2f} | {100 * c.satisfied:.0f}% |" for c in rows] + [""]
    if d.sla:
        lines += [f"## {_('SLA traffic light: first response within target')}", "",
                  f"| {_('Queue')} | {_('light')} | {_('Tickets')} | {_('breached')} | {_('open now: red / yellow')} |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {_md(q.queue)} | {_(q.light)} | {q.tickets} | {q.breached} | {q.red_now} / {q.yellow_now} |"
                  for q in d.sla] + [""]
    if d.overdue:
        lines += [f"## {_('Overdue complaints')}", ""]
        lines += ["- " + _("{reference} ({category}, {severity}), due {due}, {days} d over, queue {queue}, owner {owner}",
                           reference=o["reference"], category=_md(o["category"]), severity=value(o["severity"]), due=o["due"],
                           days=o["days_over"], queue=_md(o["queue"]), owner=_md(o["owner"] or _("no owner")))
                  for o in d.overdue] + [""]
    if d.at_risk:
        lines += [f"## {_('Loyal clients at risk')}", ""]
        for item in d.at_risk:
            lines.append(f"- {_md(item['name'])}: " + "; ".join(f"#{e['ticket']} {event_words(e, _)}" for e in item["events"]))
        lines.append("")
    if d.unanswered:
        heading = _("The bot's top unanswered questions")
        lines += [f"## {heading}", ""]
        lines += [f"- {_md(u['question'])} ({u['count']}×; {', '.join(u['languages'])})" for u in d.unanswered] + [""]
    return "\n".join(lines)


def as_json(digest: Digest) -> str:
    return json.dumps(digest.as_dict(), ensure_ascii=False, indent=2)
