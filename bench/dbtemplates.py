"""Desk databases for the benchmarks: each kind made once per bench run, then copied for every desk.

Two kinds: "schema" (what `helpline db upgrade` leaves) and "operator" (what `helpline operators add`
leaves: the schema, the configured queue and one operator). Making one through the CLI costs a process
start (about 2 s of CPU: imports, migrations, a password hash), and a full run with PostgreSQL made
six of them one after another. So each kind is made once and copied: a SQLite file copy, or on
PostgreSQL `CREATE DATABASE ... TEMPLATE`. This process makes them with the same code the CLI runs,
unless HELPLINE_BENCH_SOURCE names another checkout: then that checkout's CLI makes them (its migrations).
"""
from __future__ import annotations

import asyncio
import atexit
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import tomllib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
# Run the desk from another checkout of helpline (a `git worktree` of an older commit) to compare versions.
SOURCE = Path(os.environ["HELPLINE_BENCH_SOURCE"]).resolve() if os.environ.get("HELPLINE_BENCH_SOURCE") else ROOT

CONFIG = """
[desk]
name = "bench desk"
data_dir = "data"
default_queue = "general"
{database_url}

[web]
host = "127.0.0.1"
port = 8080
secret_key = "env:HELPLINE_SECRET_KEY"

[[queues]]
name = "general"
title = "General"
"""
_made: dict[tuple, str] = {}
# PostgreSQL template names end in this machine's tag and the process id, so a later run can tell the
# templates of a run that was killed here (its process is gone) from those of a run still going.
TEMPLATE_PREFIX = "helpline_bench_template_"
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_lock = threading.RLock()  # reentrant: making the operator kind makes the schema kind first


def helpline_cmd() -> list[str]:
    """The `helpline` command of the checkout being measured."""
    script = Path(sys.executable).parent / "helpline"
    return [str(script)] if script.exists() and SOURCE == ROOT else [sys.executable, "-m", "bot.cli"]


def _pg_parts(url: str):
    return urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))


async def pg_recreate(url: str, *, drop_only: bool = False, template: str = "") -> None:
    """Drop and create (or only drop) the database named in a postgresql+asyncpg URL (through `postgres`),
    as a copy of the database `template` when one is named."""
    import asyncpg

    parts = _pg_parts(url)
    name = parts.path.lstrip("/")
    conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()


async def _build(url: str, data_dir: Path, operator: tuple[str, str] | None) -> None:
    """What `helpline db upgrade` (operator None) or `helpline operators add NAME --role operator
    --queues general` does, in this process."""
    from bot.actions.context import Desk
    from bot.actions.operators import create_operator
    from bot.actions.setup import sync_queues
    from bot.config import parse_settings
    from bot.events import EventBus
    from bot.storage.engine import create_engine, session_factory
    from bot.storage.files import AttachmentStore
    from bot.storage.migrate import upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
        if operator:
            raw = tomllib.loads(CONFIG.format(database_url=""))
            raw["desk"].update(data_dir=str(data_dir), database_url=url)
            raw["web"]["secret_key"] = "bench-template-" + "k" * 32
            settings = parse_settings(raw, "bench template")
            desk = Desk(session_factory(engine), EventBus(), settings, AttachmentStore(data_dir / "att", 10**7, ()))
            await sync_queues(desk)
            name, password = operator
            await create_operator(desk, name, name, password, "operator", ["general"], ["en"])
    finally:
        await engine.dispose()


def _cli(folder: Path, url: str, operator: tuple[str, str] | None) -> None:
    (folder / "helpline.toml").write_text(CONFIG.format(database_url=f'database_url = "{url}"' if url else ""))
    args = ("operators", "add", operator[0], "--role", "operator", "--queues", "general", "--password-stdin") \
        if operator else ("db", "upgrade")
    env = dict(os.environ, HELPLINE_SECRET_KEY="bench-template-" + "k" * 32)
    env.pop("HELPLINE_DATABASE_URL", None)
    done = subprocess.run(helpline_cmd() + [*args, "--config", str(folder / "helpline.toml")],
                          input=operator[1] + "\n" if operator else None, capture_output=True, text=True,
                          env=env, cwd=SOURCE, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"helpline {' '.join(args)} failed ({done.returncode}): {done.stderr[-1500:]}")


def _make(server_url: str, operator: tuple[str, str] | None) -> str:
    """The template of a kind: a SQLite file's path, or a PostgreSQL database's name (dropped at exit; the
    process id in the name keeps two bench runs on one server apart)."""
    folder = Path(tempfile.mkdtemp(prefix="helpline-bench-template-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "data").mkdir()
    # The operator kind starts as a copy of the schema kind, so a run migrates once.
    schema = template(server_url, None) if operator else ""
    if server_url:
        name = f"{TEMPLATE_PREFIX}{'operator' if operator else 'schema'}_{HOST}_{os.getpid()}"
        url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
        asyncio.run(pg_recreate(url, template=schema))
        atexit.register(lambda: asyncio.run(pg_recreate(url, drop_only=True)))
    else:
        name, url = str(folder / "data" / "helpline.db"), ""
        if schema:
            copy_sqlite(None, folder / "data")
    if SOURCE == ROOT:
        asyncio.run(_build(url or f"sqlite+aiosqlite:///{name}", folder / "data", operator))
    else:
        _cli(folder, url, operator)
    return name


def template(server_url: str = "", operator: tuple[str, str] | None = None) -> str:
    """The template of a kind on SQLite (no URL) or on the PostgreSQL server of `server_url` (any database
    there): made on first use, in the calling thread, where no event loop may be running; one at a time
    (the lock), as Alembic's `context` and `op` are one per process."""
    key = (urlsplit(server_url).netloc, operator)
    with _lock:
        if key not in _made:
            _made[key] = _make(server_url, operator)
        return _made[key]


def copy_sqlite(operator: tuple[str, str] | None, data_dir: Path) -> None:
    """A desk's SQLite database (and its WAL if one was left) from the template, into its data folder."""
    made = Path(template("", operator))
    data_dir.mkdir(parents=True, exist_ok=True)
    for f in made.parent.glob(made.name + "*"):
        shutil.copyfile(f, data_dir / f.name)


async def copy_pg(url: str, operator: tuple[str, str] | None) -> None:
    """The PostgreSQL database `url` names, dropped if it exists and made again as a copy of the template."""
    name = await asyncio.to_thread(template, url, operator)
    await pg_recreate(url, template=name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _killed_here(name: str) -> bool:
    """A template of a bench run on this machine whose process is gone."""
    _, host, pid = name.rsplit("_", 2)
    return host == HOST and pid.isdigit() and not _alive(int(pid))


async def drop_left_templates(server_url: str) -> list[str]:
    """Drop the templates that bench runs on this machine left on the server when they were killed
    (their process is gone; a normal exit drops its own); the names dropped."""
    import asyncpg

    parts = _pg_parts(server_url)
    conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")), timeout=10)
    try:
        names = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
                                                TEMPLATE_PREFIX)]
        left = [name for name in names if _killed_here(name)]
        for name in left:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    return left


def prepare_all(server_url: str, operator: tuple[str, str]) -> None:
    """Every template a bench run uses, made before anything is timed: one after another, as Alembic's
    `context` and `op` are one per process. Templates a killed run left on the server go first."""
    if server_url:
        left = asyncio.run(drop_left_templates(server_url))
        if left:
            print(f"dropped {len(left)} template database(s) a killed bench run left: {', '.join(left)}", file=sys.stderr)
    for url in [""] + ([server_url] if server_url else []):
        template(url, None)
        template(url, operator)
