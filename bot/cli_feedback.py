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
    from bot.feedback.queries import segment_history
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
