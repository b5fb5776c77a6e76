"""`helpline retention run [--dry-run]`: apply the `[retention]` limits now, with progress and a summary."""
from __future__ import annotations

import asyncio
import sys

from bot.cli_clients import _who, add_config_options
from bot.errors import HelplineError


def cmd_run(args) -> int:
    from bot.actions.retention import apply_retention
    from bot.cli import _settings, _with_desk

    settings = _settings(args)
    limits = settings.retention
    if not limits.enabled:
        raise HelplineError("no retention limit is set: add [retention] messages_days and/or attachments_days "
                            "to the config (0 keeps forever)")
    shown: dict[str, int] = {}

    def progress(what: str, done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if shown.get(what) != step:
            shown[what] = step
            print(f"  {what}: {done} of {total}", file=sys.stderr, flush=True)

    print(f"{'checking' if args.dry_run else 'applying'} retention: message texts after "
          f"{limits.messages_days or 'never'} days, attachments after {limits.attachments_days or 'never'} days "
          "from a ticket's resolution", file=sys.stderr, flush=True)
    report = asyncio.run(_with_desk(settings, lambda desk: apply_retention(
        desk, dry_run=args.dry_run, by=_who(), progress=progress)))
    if args.dry_run:
        print(f"dry run: {report.messages} message texts and {report.attachments} attachments would be removed; "
              "nothing changed")
        if report.notes_and_feedback:
            print(f"dry run: notes, survey comments and complaint texts of {report.notes_and_feedback} tickets would be cleared")
    else:
        print(f"retention applied: {report.messages} message texts erased, {report.attachments} attachments and "
              f"{report.files_removed} stored files removed on {len(report.tickets)} tickets; tickets and statistics kept")
        if report.notes_and_feedback:
            print(f"notes, survey comments and complaint texts cleared on {report.notes_and_feedback} tickets")
        if report.files_deferred:
            print(f"{report.files_deferred} stored files were taken by an identical upload moments ago: "
                  "the desk removes them once no row names them")
    return 0


def add_retention_commands(sub) -> None:
    """Register `retention run` on the top-level subparsers."""
    retention = sub.add_parser("retention", help="remove old message texts and attachments ([retention] in the config)")
    actions = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    run = add_config_options(actions.add_parser("run", help="apply the retention limits now (the desk also does it periodically)"))
    run.add_argument("--dry-run", action="store_true", help="count what would be removed, change nothing")
    run.set_defaults(func=cmd_run)
