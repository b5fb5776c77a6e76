"""Several web chat conversations read at once: each after its own id, none of another chat's."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from bot.actions.inbox import receive_message
from bot.domain import Attachment, InboundMessage
from bot.storage import queries


PHOTO = b"\x89PNG\r\n\x1a\n" + b"\7" * 100


async def writes(desk, chat: str, text: str, files: tuple[Attachment, ...] = ()) -> int:
    receipt = await receive_message(desk, InboundMessage(
        channel="webchat", user_id=chat, chat_id=chat, message_id=f"{chat}:{text}", text=text,
        sent_at=datetime.now(timezone.utc), attachments=files))
    return receipt.message_id


async def test_each_chat_gets_its_messages_after_its_own_id_and_a_cut_leaves_no_gap(desk):
    ids: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    for n in range(3):
        for chat in "abc":
            ids[chat].append(await writes(desk, chat, f"m{n}"))
    async with desk.sessions() as s:
        found = await queries.conversations(s, "webchat", {"a": ids["a"][1], "b": 0})
        cut = await queries.conversations(s, "webchat", {"a": 0, "b": ids["b"][0]}, limit=4)
    assert {chat: [e.id for e in entries] for chat, entries in found.items()} == {"a": ids["a"][2:], "b": ids["b"]}
    # Four rows read in id order (a0, b0 (already had), a1, b1): each chat's entries start right after its id.
    assert {chat: [e.id for e in entries] for chat, entries in cut.items()} == {"a": ids["a"][:2], "b": ids["b"][1:2]}


async def test_an_entry_carries_its_text_client_id_and_files_in_order(desk):
    photos = (Attachment("one.png", "image/png", len(PHOTO), data=PHOTO),
              Attachment("two.png", "image/png", len(PHOTO), data=PHOTO + b"2"))
    first = await writes(desk, "a", "hello", photos)
    async with desk.sessions() as s:
        (entry,) = (await queries.conversations(s, "webchat", {"a": 0}))["a"]
        (single,) = await queries.conversation(s, "webchat", "a")
    assert entry == single  # the shared read builds the same entry as the one-chat read
    assert (entry.id, entry.text, entry.external_id, entry.author_kind.value) == (first, "hello", "a:hello", "client")
    assert [a.filename for a in entry.attachments] == ["one.png", "two.png"] and all(a.id for a in entry.attachments)


async def test_a_chat_history_is_read_along_the_chats_tickets_not_the_whole_message_table(desk):
    """A visitor opening the widget reads their chat from the start: that must not walk every message
    the desk has (it did on SQLite before migration 0013, growing with the desk's history)."""
    engine = desk.sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan; PostgreSQL plans by its statistics")
    for n in range(3):
        for chat in "ab":
            await writes(desk, chat, f"m{n}")
    statements = []

    def seen(_conn, _cursor, statement, params, _context, _many):
        if "FROM messages JOIN tickets" in statement:
            statements.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with desk.sessions() as s:
            assert len(await queries.conversation(s, "webchat", "a")) == 3
            assert len((await queries.conversations(s, "webchat", {"a": 0, "b": 0}))["b"]) == 3
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(statements) == 2
    async with engine.connect() as conn:
        for statement, params in statements:
            plan = " / ".join(row[3] for row in (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)))
            assert "SEARCH tickets USING COVERING INDEX ix_tickets_channel_chat" in plan, plan
            assert "SEARCH messages USING INTEGER PRIMARY KEY" not in plan, plan
