"""Nothing lost, nothing twice: a restart, and a kill -9 of a real desk process in the middle of a batch."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.storage.engine import create_engine, session_factory
from bot.storage.migrate import upgrade
from bot.storage.models import Message
from channels.telegram import polling
from tests.conftest import SECRET, free_port
from tests.fakes.telegram_updates import TelegramUser

ROOT = Path(__file__).resolve().parents[3]
JPEG = b"\xff\xd8\xff\xe0" + b"j" * 2000


def batch(fake):
    """Ten updates in three chats: texts, a photo whose download the fake holds, an album, an edit."""
    anna, bert, cara = TelegramUser(id=501), TelegramUser(id=502, first_name="Bert"), TelegramUser(id=503, first_name="Cara")
    held = fake.add_file(JPEG, "photos/file.jpg", hold=True)
    album = [fake.add_file(JPEG + bytes([i]), "photos/file.jpg") for i in range(2)]
    updates = [
        anna.text("A1", message_id=1), anna.text("A2", message_id=2), anna.text("A3", message_id=3),
        anna.photo(held, len(JPEG), caption="A4 photo", message_id=4),
        bert.text("B1", message_id=1),
        cara.photo(album[0], len(JPEG) + 1, caption="C album", group="cg", message_id=1),
        cara.photo(album[1], len(JPEG) + 1, group="cg", message_id=2),
        anna.text("A5", message_id=5),
        anna.edit(1, "A1 edited"),
        bert.text("B2", message_id=2),
    ]
    ids = fake.push(*updates)
    expected = {"501:1": "A1 edited", "501:2": "A2", "501:3": "A3", "501:4": "A4 photo", "501:5": "A5",
                "502:1": "B1", "502:2": "B2", "503:album:cg": "C album"}
    return ids, held, expected


async def stored(engine) -> dict[str, tuple[str, int]]:
    """external id -> (text, attachments), failing on any external id stored twice."""
    async with session_factory(engine)() as s:
        rows = list((await s.execute(select(Message).options(selectinload(Message.attachments))
                                     .where(Message.channel == "telegram", Message.direction == "in"))).scalars())
        dupes = (await s.execute(select(Message.external_id, func.count()).group_by(Message.external_id)
                                 .having(func.count() > 1))).all()
    assert not dupes, f"stored twice: {dupes}"
    return {m.external_id: (m.text, len(m.attachments)) for m in rows}


async def until_stored(engine, keys, timeout=60.0) -> dict:
    """Poll the database another process writes until these messages are there (bounded, never a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = await stored(engine)
        if set(keys) <= set(rows):
            return rows
        if loop.time() > deadline:
            raise AssertionError(f"not stored in {timeout} s: {sorted(set(keys) - set(rows))}")
        await asyncio.sleep(0.1)


def write_config(tmp_path: Path, database_url: str, api_url: str) -> Path:
    path = tmp_path / "helpline.toml"
    path.write_text(f"""
[desk]
data_dir = "{(tmp_path / 'data').as_posix()}"
database_url = "{database_url}"
[web]
secret_key = "{SECRET}"
port = {free_port()}
[channels.telegram]
token = "env:CRASH_TEST_TOKEN"
api_server = "{api_url}"
polling_timeout = 1
album_wait_seconds = 0.3
chat_messages_per_second = 1000.0
""", encoding="utf-8")
    return path


def run_desk(config: Path, token: str, log: Path) -> subprocess.Popen:
    """`helpline run` in its own process, its output in a file (a pipe nobody reads could stall it)."""
    env = {**os.environ, "CRASH_TEST_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    env.pop("HELPLINE_SECRET_KEY", None)
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--config", str(config)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


async def test_kill_9_in_the_middle_of_a_batch_loses_and_duplicates_nothing(tmp_path, database_url, fake_api):
    engine = create_engine(database_url)
    await upgrade(engine)
    config = write_config(tmp_path, database_url, fake_api.url)
    ids, held, expected = batch(fake_api)
    first = run_desk(config, fake_api.token, tmp_path / "first.log")
    try:
        # Anna's photo is her fourth message: when its download starts, her first three are committed
        # (one chat is stored in order), and the photo's update cannot have been confirmed.
        await asyncio.wait_for(fake_api.files[held].requested.wait(), 90)
        before_kill = await stored(engine)
        assert {"501:1", "501:2", "501:3"} <= set(before_kill) and "501:4" not in before_kill
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    photo_update = ids[3]
    assert all(o is None or o <= photo_update for o in fake_api.offsets), (fake_api.offsets, photo_update)
    acked_before = max((o for o in fake_api.offsets if o is not None), default=None)

    fake_api.release(held)
    second = run_desk(config, fake_api.token, tmp_path / "second.log")
    try:
        await until_stored(engine, expected)
        # Confirmed only after committed: once the offset passes the last update, everything is in.
        await fake_api.wait_until(lambda: any(o is not None and o > ids[-1] for o in fake_api.offsets), 30, "all confirmed")
        rows = await stored(engine)
        assert {key: text for key, (text, _) in rows.items()} == expected
        assert rows["501:4"][1] == 1 and rows["503:album:cg"][1] == 2
        # The second process was given again what the first had committed but not confirmed: stored once.
        assert acked_before is None or acked_before <= photo_update
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            second.kill()
        await engine.dispose()
    output = (tmp_path / "first.log").read_text("utf-8", "replace") + (tmp_path / "second.log").read_text("utf-8", "replace")
    assert fake_api.token not in output and fake_api.token.split(":")[1] not in output


async def test_a_restart_redelivers_what_was_not_confirmed_and_stores_it_once(make_telegram, fake_api, monkeypatch):
    monkeypatch.setattr(polling, "STOP_GRACE", 0.2)
    first = await make_telegram()
    ids, held, expected = batch(fake_api)
    await asyncio.wait_for(fake_api.files[held].requested.wait(), 30)
    await first.adapter.stop()  # the held download is cancelled: Anna's photo and what follows stay unconfirmed
    confirmed = max(o for o in fake_api.offsets if o is not None)
    assert confirmed <= ids[3]
    fake_api.release(held)
    second = await make_telegram(settings=first.desk.settings)
    await second.acked(*ids)
    rows = {m.external_id: m for m in await second.messages()}
    assert {k: m.text for k, m in rows.items()} == expected
    assert len(rows) == len(expected)


async def test_two_desk_processes_poll_a_bot_one_at_a_time(make_telegram, fake_api, monkeypatch, caplog):
    """The second desk on the same database stands by, and takes over when the first stops."""
    import logging

    from channels.telegram import adapter as adapter_module

    caplog.set_level(logging.INFO, "channels.telegram")
    monkeypatch.setattr(adapter_module, "STANDBY_SECONDS", 0.1)
    monkeypatch.setattr(polling, "STOP_GRACE", 0.2)
    first = await make_telegram()
    await fake_api.wait_until(lambda: "getUpdates" in fake_api.calls, 10, "the first desk polling")
    second = await make_telegram(settings=first.desk.settings)
    await fake_api.wait_until(lambda: "stands by" in caplog.text, 10, "the second desk standing by")
    assert second.adapter.poller is None
    user = TelegramUser()
    [one] = fake_api.push(user.text("Pirmais"))
    await first.acked(one)
    await first.adapter.stop()
    [two] = fake_api.push(user.text("Otrais"))
    await second.acked(two)
    assert second.adapter.poller is not None and "this process polls the bot now" in caplog.text
    assert [m.text for m in await second.messages()] == ["Pirmais", "Otrais"]
