"""`helpline clients export|erase CLIENT`: a client's data on request (privacy)."""
from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path

from bot.errors import HelplineError


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def cmd_export(args) -> int:
    from bot.actions.privacy import export_client
    from bot.cli import _settings, _with_desk

    data = asyncio.run(_with_desk(_settings(args), lambda desk: export_client(desk, args.client, _who())))
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"client {args.client}: {len(data['tickets'])} tickets, "
              f"{sum(len(t['messages']) for t in data['tickets'])} messages written to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_erase(args) -> int:
    from bot.actions.privacy import erase_client
    from bot.cli import _settings, _with_desk

    if not args.yes:
        if not sys.stdin.isatty():
            raise HelplineError("erasing cannot be undone: add --yes to confirm")
        if input(f"erase the personal data of client {args.client}? this cannot be undone [y/N] ").strip().lower() != "y":
            print("nothing erased")
            return 1
    counts = asyncio.run(_with_desk(_settings(args), lambda desk: erase_client(desk, args.client, _who())))
    print(f"client {args.client} erased: {counts['messages']} message texts, {counts['attachments']} attachments, "
          f"{counts['identities']} channel identities; {counts['tickets']} tickets kept for statistics")
    return 0


def add_config_options(p):
    p.add_argument("--config", help="TOML config file (default: the built-in demo configuration)")
    p.add_argument("--database-url", help="override desk.database_url (e.g. postgresql+asyncpg://host/db)")
    return p


def add_clients_commands(sub) -> None:
    """Register `clients export` and `clients erase` on the top-level subparsers."""
    clients = sub.add_parser("clients", help="a client's data: export or erase (privacy requests)")
    actions = clients.add_subparsers(dest="clients_command", required=True, metavar="ACTION")
    export = add_config_options(actions.add_parser("export", help="all of a client's data as JSON (audited)"))
    export.add_argument("client", type=int, help="the client's number (shown on ticket pages and in the API)")
    export.add_argument("--output", "-o", help="write to this file instead of standard output")
    export.set_defaults(func=cmd_export)
    erase = add_config_options(actions.add_parser("erase", help="remove a client's personal data, keep statistics (audited)"))
    erase.add_argument("client", type=int, help="the client's number")
    erase.add_argument("--yes", action="store_true", help="confirm without asking")
    erase.set_defaults(func=cmd_erase)
