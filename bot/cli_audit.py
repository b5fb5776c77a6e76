"""`helpline audit --client ID`: who read, exported or erased a client's data (privacy)."""
from __future__ import annotations

import asyncio
import json

from bot.cli_clients import add_config_options


def cmd_audit(args) -> int:
    from bot.actions.audit import client_audit
    from bot.cli import _settings, _with_desk

    entries = asyncio.run(_with_desk(_settings(args), lambda desk: client_audit(desk, args.client, args.limit)))
    if args.json:
        print(json.dumps([{"at": e.at.isoformat(), "kind": e.kind, "who": e.who, "ticket": e.ticket_number, "via": e.via}
                          for e in entries], indent=2))
        return 0
    if not entries:
        print(f"client {args.client}: nobody has read, exported or erased their data yet (reads are recorded "
              "from the console, the API and downloads)")
        return 0
    for e in entries:
        read = f"read ticket {e.ticket_number}" if e.ticket_number is not None else "read the client's record"
        what = f"{read} ({e.via})" if e.kind == "client_read" else e.kind.removeprefix("client_")
        print(f"{e.at:%Y-%m-%d %H:%M} UTC  {e.who:<24} {what}")
    readers = {e.who for e in entries if e.kind == "client_read"}
    print(f"client {args.client}: {len(entries)} entries; {len(readers)} operator(s) read their data "
          "(a read is recorded at most once an hour per operator and ticket)")
    return 0


def add_audit_commands(sub) -> None:
    """Register `audit --client ID` on the top-level subparsers."""
    audit = add_config_options(sub.add_parser("audit", help="who read, exported or erased a client's data"))
    audit.add_argument("--client", type=int, required=True, help="the client's number (shown on ticket pages and in the API)")
    audit.add_argument("--limit", type=int, default=1000, help="at most this many entries, newest first (default 1000)")
    audit.add_argument("--json", action="store_true", help="print JSON instead of lines")
    audit.set_defaults(func=cmd_audit)
