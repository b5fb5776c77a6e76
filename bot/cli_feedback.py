"""`helpline segments|digest|demo seed`: client segments, the managers' digest and a demo month of data."""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.errors import HelplineError


def _run(args, work):
    from bot.cli import _settings, _with_desk

    return asyncio.run(_with_desk(_settings(args), work))


def cmd_segments_pin(args) -> int:
    from bot.actions.segments import pin_segment

    row = _run(args, lambda desk: pin_segment(desk, args.client_id, segment=args.segment, add_tags=args.tag or [],
                                              remove_tags=args.untag or [], unpin=args.unpin, source="cli",
                                              reason=args.reason or ""))
    pinned = "pinned" if row.pinned else "by the rules"
    print(f"client {args.client_id}: {row.segment} ({pinned}); tags: {', '.join(row.tags) or 'none'}")
    return 0


def cmd_segments_import(args) -> int:
    from bot.actions.segments import import_segments

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HelplineError(f"cannot read {args.file}: {exc}") from None
    count = _run(args, lambda desk: import_segments(desk, text))
    print(f"imported {count} client(s) from {args.file}")
    return 0


def cmd_segments_recompute(args) -> int:
    from bot.actions.segments import recompute_segments

    changed = _run(args, lambda desk: recompute_segments(desk))
    print(f"segments recomputed: {changed} changed")
    return 0


def cmd_segments_show(args) -> int:
    from bot.storage.feedback_queries import segment_history
    from bot.storage.models import ClientSegment

    async def work(desk):
        async with desk.sessions() as s:
            return await s.get(ClientSegment, args.client_id), await segment_history(s, args.client_id)

    row, history = _run(args, work)
    if row is None:
        print(f"client {args.client_id}: no segment yet (run `helpline segments recompute`)")
        return 0
    print(f"client {args.client_id}: {row.segment}{' (pinned)' if row.pinned else ''}; the rules say {row.computed or '-'} "
          f"({row.reason}); tags: {', '.join(row.tags) or 'none'}")
    for change in history:
        print(f"  {change.at:%Y-%m-%d %H:%M} {change.old_segment or '-'} -> {change.new_segment} by {change.source}"
              f"{': ' + change.reason if change.reason else ''}")
    return 0


def add_feedback_commands(sub) -> None:
    """Register `segments`, `digest` and `demo seed` on the top-level subparsers."""
    config_help = "TOML config file (default: the built-in demo configuration)"

    def with_config(p):
        p.add_argument("--config", help=config_help)
        p.add_argument("--database-url", help="override desk.database_url")
        return p

    segments = sub.add_parser("segments", help="client segments: pin, tag, import, recompute, show").add_subparsers(
        dest="segments_command", required=True, metavar="ACTION")
    pin = with_config(segments.add_parser("pin", help="pin a client's segment and/or add or remove tags"))
    pin.add_argument("client_id", type=int)
    pin.add_argument("--segment", choices=["loyal", "core", "difficult", "dormant"])
    pin.add_argument("--unpin", action="store_true", help="let the rules decide again")
    pin.add_argument("--tag", action="append", help="add a tag (repeatable), e.g. VIP")
    pin.add_argument("--untag", action="append", help="remove a tag (repeatable)")
    pin.add_argument("--reason", help="recorded with the change")
    pin.set_defaults(func=cmd_segments_pin)
    imp = with_config(segments.add_parser("import", help="pin segments and tags from a CSV: client_id,segment,tags (tags split by ';')"))
    imp.add_argument("file")
    imp.set_defaults(func=cmd_segments_import)
    with_config(segments.add_parser("recompute", help="apply the segment rules to every client")).set_defaults(func=cmd_segments_recompute)
    show = with_config(segments.add_parser("show", help="a client's segment, tags and history"))
    show.add_argument("client_id", type=int)
    show.set_defaults(func=cmd_segments_show)
    add_digest_commands(sub)


def cmd_digest(args) -> int:
    from zoneinfo import ZoneInfo

    from bot.dialogue.i18n import default_catalogs
    from bot.feedback.digest import build_digest
    from bot.feedback.periods import parse_period
    from bot.feedback.render import as_json, markdown, standalone_html
    from bot.storage.models import utcnow

    async def work(desk):
        now = utcnow()
        period = parse_period(args.period, ZoneInfo(desk.settings.desk.time_zone), now)
        digest = await build_digest(desk, period, now)
        name = desk.settings.desk.name
        language = args.language or desk.settings.desk.default_language
        if not default_catalogs().has(language):
            raise HelplineError(f"there is no catalog for language {language!r}; "
                                f"use one of {', '.join(default_catalogs().languages)}")
        if args.email:
            from bot.feedback.mailer import digest_email, send_email

            url = f"{desk.settings.desk.public_url.rstrip('/')}/console/digest" if desk.settings.desk.public_url else ""
            try:
                await send_email(desk.settings, digest_email(desk.settings, digest, args.email, url, language))
            except Exception as exc:
                config = desk.settings.feedback.digest.email
                raise HelplineError(f"cannot send through {config.smtp_host}:{config.smtp_port} "
                                    f"([feedback.digest.email]): {exc}") from None
            return f"digest for {period.label} sent to {args.email}"
        return {"json": as_json, "md": lambda d: markdown(d, name, language),
                "html": lambda d: standalone_html(d, name, language)}[args.format](digest)

    text = _run(args, work)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"digest written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_demo_seed(args) -> int:
    from bot.actions.demo_seed import seed_demo

    if args.tickets < 1 or args.days < 1:
        raise HelplineError("--tickets and --days must be at least 1")

    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    print(f"seeding {args.tickets} tickets over {args.days} days", file=sys.stderr, flush=True)
    made = _run(args, lambda desk: seed_demo(desk, days=args.days, tickets=args.tickets, seed=args.seed, progress=progress))
    if args.json:
        print(json.dumps(made, indent=2))
        return 0
    print(f"seeded {made.get('tickets', 0)} tickets for {made.get('clients', 0)} clients "
          f"({made.get('messages', 0)} messages): {made.get('complaints', 0)} complaints ({made.get('overdue', 0)} overdue), "
          f"{made.get('surveys_sent', 0)} surveys sent, {made.get('survey_answers', 0)} answered, "
          f"{made.get('follow_ups', 0)} follow-ups, {made.get('unanswered', 0)} unanswered bot questions, "
          f"{made.get('vip', 0)} VIP clients pinned")
    print("open the console as a manager or supervisor and choose Digest (or run `helpline digest --period week`)")
    return 0


def add_digest_commands(sub) -> None:
    """`digest` and `demo seed`."""
    digest = sub.add_parser("digest", help="the managers' digest for a period, as HTML, Markdown or JSON")
    digest.add_argument("--config", help="TOML config file (default: the built-in demo configuration)")
    digest.add_argument("--database-url", help="override desk.database_url")
    digest.add_argument("--period", default="week", help="week (last full week), month (last full month), day, or YYYY-MM-DD:YYYY-MM-DD")
    digest.add_argument("--format", default="md", choices=["html", "md", "json"])
    digest.add_argument("--out", help="write to this file instead of standard output")
    digest.add_argument("--language", help="the digest's language (a catalog: en, de, ru, ...); default: desk.default_language")
    digest.add_argument("--email", metavar="ADDRESS", help="send it now to this address through [feedback.digest.email]'s SMTP server")
    digest.set_defaults(func=cmd_digest)
    demo = sub.add_parser("demo", help="demo data").add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    seed = demo.add_parser("seed", help="fill the database with a realistic month of tickets, complaints and surveys")
    seed.add_argument("--config", help="TOML config file (default: the built-in demo configuration)")
    seed.add_argument("--database-url", help="override desk.database_url")
    seed.add_argument("--days", type=int, default=30)
    seed.add_argument("--tickets", type=int, default=2000)
    seed.add_argument("--seed", type=int, default=7, help="random seed (the same seed gives the same data)")
    seed.add_argument("--json", action="store_true", help="print the summary as JSON")
    seed.set_defaults(func=cmd_demo_seed)
