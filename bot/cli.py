"""The `helpline` command: run the desk, migrate, manage operators (passwords too) and API tokens."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path

from bot.cli_audit import add_audit_commands
from bot.cli_retention import add_retention_commands
from bot.cli_clients import add_clients_commands
from bot.cli_i18n import add_i18n_commands
from bot.cli_feedback import add_feedback_commands
from bot.cli_router import add_router_commands
from bot.cli_telegram import add_telegram_commands
from bot.config import DEMO_CONFIG, Settings, load_settings
from bot.errors import HelplineError

logger = logging.getLogger("helpline")


def _settings(args) -> Settings:
    settings = load_settings(Path(args.config) if args.config else None)
    if getattr(args, "database_url", None):
        settings = settings.model_copy(update={"desk": settings.desk.model_copy(update={"database_url": args.database_url})})
    return settings


async def _with_desk(settings: Settings, work):
    """Run `work(desk)` against a migrated database, then close the engine."""
    from bot.actions.context import Desk
    from bot.actions.setup import sync_queues
    from bot.events import EventBus
    from bot.storage.engine import create_engine, session_factory
    from bot.storage.files import AttachmentStore
    from bot.storage.migrate import upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        desk = Desk(session_factory(engine), EventBus(), settings,
                    AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
        await sync_queues(desk)
        return await work(desk)
    finally:
        await engine.dispose()


def cmd_run(args) -> int:
    from aiohttp import web

    from bot.app import create_app

    settings = _settings(args)
    host = args.host or settings.web.host
    port = args.port if args.port is not None else settings.web.port
    public = settings.desk.public_url.rstrip("/") or f"http://{host}:{port}"
    app = create_app(settings, public_url=public)
    demo = not args.config

    def banner(_line: str) -> None:
        lines = [f"helpline is running ({'demo desk' if demo else settings.desk.name}) on {settings.database_url.split('://')[0]}",
                 f"  demo shop with the chat widget: {public}/",
                 f"  full-page chat:                 {public}/chat",
                 f"  operator console:               {public}/console",
                 f"  REST API (OpenAPI):             {public}/api/openapi.json"]
        if settings.demo_operators:
            lines.append("  demo logins (username / password, role, queues):")
            for op in settings.demo_operators:
                lines.append(f"    {op.username} / {op.password}  ({op.role}; {', '.join(op.queues) or 'all queues'})")
        lines.append("Press Ctrl+C to stop.")
        print("\n".join(lines), flush=True)

    app.on_startup.append(_freeze_startup_objects)  # after the app's own start-up (cleanup_ctx runs first)
    web.run_app(app, host=host, port=port, print=banner, access_log=None)
    return 0


async def _freeze_startup_objects(_app) -> None:
    """Keep what start-up built (modules, models, settings) out of the collector's full passes: each
    walked about 160,000 such objects, a pause of a quarter of a second every few dozen pages. And
    collect the young generation less often: at the default (700 allocations) it ran several times
    inside every console page, promoting the page's live rows towards the full passes."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def cmd_db_upgrade(args) -> int:
    from bot.storage.engine import create_engine
    from bot.storage.migrate import upgrade

    settings = _settings(args)

    async def go():
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    print(f"database is up to date ({settings.database_url.split('://')[0]})")
    return 0


def cmd_db_backup(args) -> int:
    from bot.storage.backup import backup_sqlite

    settings = _settings(args)
    target = Path(args.file)
    shown = {"step": -1}

    def progress(done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if step != shown["step"]:
            shown["step"] = step
            print(f"  copied {done} of {total} pages", file=sys.stderr, flush=True)

    print(f"backing up {settings.database_url} to {target} ...", file=sys.stderr, flush=True)
    pages = backup_sqlite(settings.database_url, target, progress)
    print(f"backup written: {target} ({pages} pages, {target.stat().st_size // 1024} KiB); "
          f"to restore, stop the desk and point desk.database_url at a copy of it")
    return 0


def _read_password(args, confirm: bool = False) -> str:
    """The password from standard input (--password-stdin) or typed at a terminal, never from argv."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise HelplineError("give the password on standard input with --password-stdin")
    password = getpass.getpass(f"password for {args.username}: ")
    if confirm and getpass.getpass("the same password again: ") != password:
        raise HelplineError("the two passwords differ; nothing changed, run the command again")
    return password


def cmd_operators_add(args) -> int:
    from bot.actions.operators import create_operator

    password = _read_password(args)
    queues = [q for q in (args.queues or "").split(",") if q]
    languages = [lang for lang in (args.languages or "en").split(",") if lang]
    settings = _settings(args)
    asyncio.run(_with_desk(settings, lambda desk: create_operator(
        desk, args.username, args.display_name or args.username, password, args.role, queues, languages)))
    print(f"operator {args.username} added ({args.role}; queues: {', '.join(queues) or 'none'})")
    return 0


def cmd_operators_list(args) -> int:
    from bot.storage.queries import all_operators

    async def work(desk):
        async with desk.sessions() as s:
            return await all_operators(s)

    operators = asyncio.run(_with_desk(_settings(args), work))
    if not operators:
        print("no operators yet: add one with `helpline operators add NAME --role admin --password-stdin`")
    for op in operators:
        state = "" if op.active else "  (disabled)"
        print(f"{op.username:<20} {op.role:<10} {','.join(sorted(q.name for q in op.queues)) or '-':<30} {','.join(op.languages)}{state}")
    return 0


def cmd_operators_disable(args) -> int:
    from bot.actions.operators import set_operator_active

    asyncio.run(_with_desk(_settings(args), lambda desk: set_operator_active(desk, args.username, False)))
    print(f"operator {args.username} disabled; their sessions ended and API tokens were revoked")
    return 0


def cmd_operators_passwd(args) -> int:
    from bot.actions.operators import change_password
    from bot.cli_clients import _who

    password = _read_password(args, confirm=True)
    revoked = asyncio.run(_with_desk(_settings(args), lambda desk: change_password(desk, args.username, password, by=_who())))
    print(f"password of {args.username} changed; {revoked['sessions_ended']} console session(s) ended and "
          f"{revoked['tokens_revoked']} API token(s) revoked (create new ones with `helpline tokens create {args.username}`)")
    return 0


def cmd_tokens_create(args) -> int:
    from bot.actions.operators import create_api_token

    token = asyncio.run(_with_desk(_settings(args), lambda desk: create_api_token(desk, args.username, args.name or "")))
    print(token)
    print(f"(an API token for {args.username}; it is shown only now: keep it secret)", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="helpline", description="An omnichannel customer-support desk.")
    top.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p):
        p.add_argument("--config", help="TOML config file (default: the built-in demo configuration)")
        p.add_argument("--database-url", help="override desk.database_url (e.g. postgresql+asyncpg://host/db)")
        return p

    run = with_config(sub.add_parser("run", help="start the desk (the demo desk when no --config is given)"))
    run.add_argument("--host", help="address to listen on (default: web.host)")
    run.add_argument("--port", type=int, help="port to listen on (default: web.port)")
    run.set_defaults(func=cmd_run)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True, metavar="ACTION")
    with_config(db.add_parser("upgrade", help="apply pending migrations")).set_defaults(func=cmd_db_upgrade)
    backup = with_config(db.add_parser("backup", help="copy the SQLite database while the desk runs (PostgreSQL: pg_dump)"))
    backup.add_argument("file", help="the new backup file (never overwritten)")
    backup.set_defaults(func=cmd_db_backup)

    ops = sub.add_parser("operators", help="manage operators").add_subparsers(dest="op_command", required=True, metavar="ACTION")
    add = with_config(ops.add_parser("add", help="add an operator"))
    add.add_argument("username")
    add.add_argument("--name", dest="display_name", help="display name (default: the username)")
    add.add_argument("--role", default="operator", choices=["operator", "supervisor", "manager", "admin"])
    add.add_argument("--queues", default="", help="comma-separated queue names")
    add.add_argument("--languages", default="en", help="comma-separated language codes")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_operators_add)
    with_config(ops.add_parser("list", help="list operators")).set_defaults(func=cmd_operators_list)
    disable = with_config(ops.add_parser("disable", help="disable an operator (ends sessions, revokes tokens)"))
    disable.add_argument("username")
    disable.set_defaults(func=cmd_operators_disable)
    passwd = with_config(ops.add_parser("passwd", help="set an operator's password (ends sessions, revokes tokens)"))
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")
    passwd.set_defaults(func=cmd_operators_passwd)

    tokens = sub.add_parser("tokens", help="REST API tokens").add_subparsers(dest="tok_command", required=True, metavar="ACTION")
    create = with_config(tokens.add_parser("create", help="create a bearer token for an operator"))
    create.add_argument("username")
    create.add_argument("--name", help="a label for the token (e.g. the integration using it)")
    create.set_defaults(func=cmd_tokens_create)
    add_router_commands(sub)
    add_telegram_commands(sub)
    add_feedback_commands(sub)
    add_i18n_commands(sub)
    add_clients_commands(sub)
    add_audit_commands(sub)
    add_retention_commands(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # Alembic's INFO lines (plugin set-up, "Context impl") bury the command's own output
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except HelplineError as exc:
        print(f"helpline: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"helpline: {exc.strerror or exc} ({'check the host and port' if args.command == 'run' else 'check the paths and the database URL'})", file=sys.stderr)
        return 1
    except Exception as exc:
        from bot.app import SchemaOutdated

        if isinstance(exc, SchemaOutdated):
            print(f"helpline: {exc}", file=sys.stderr)
            return 2
        if os.environ.get("HELPLINE_DEBUG") or args.verbose:
            raise
        print(f"helpline: {type(exc).__name__}: {exc}\n(run again with -v for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
