"""One socket's stream: replayed in pages, each message once, and a stalled socket never blocks a sender."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from bot.domain import AuthorKind, ConversationEntry, Direction
from channels.webchat import connection
from channels.webchat.connection import Connection


class FakeSocket:
    """The websocket's side the connection uses; ``stalled`` makes every write wait forever."""

    def __init__(self, stalled: bool = False):
        self.stalled = stalled
        self.frames: list[dict] = []
        self.closed = False
        self.close_code = None
        self.wrote = asyncio.Event()

    async def send_str(self, text: str) -> None:
        if self.stalled:
            await asyncio.Event().wait()
        self.frames.append(json.loads(text))
        self.wrote.set()

    async def close(self, *, code: int, message: bytes = b"") -> None:
        self.closed, self.close_code = True, code


def entries(*ids: int) -> list[ConversationEntry]:
    return [ConversationEntry(id=i, direction=Direction.OUTBOUND, author_kind=AuthorKind.OPERATOR, author_name="Anna",
                              text=f"reply {i}", created_at=datetime(2026, 1, 1, tzinfo=timezone.utc)) for i in ids]


def paged(pages: list[list[ConversationEntry]]):
    asked = []

    async def fetch(after: int) -> list[ConversationEntry]:
        asked.append(after)
        return pages.pop(0) if pages else []
    return fetch, asked


async def test_replay_reads_every_page_then_says_synced():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    fetch, asked = paged([entries(3, 4), entries(7)])
    await conn.replay(fetch, after=2)
    await conn.close()
    assert asked == [2, 4, 7]
    assert [f.get("message_id") for f in ws.frames] == [3, 4, 7, None]
    assert ws.frames[-1] == {"type": "synced", "last_message_id": 7}


async def test_each_message_goes_out_once_even_when_pushed_and_fetched():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    await conn.replay(paged([entries(1)])[0], after=0)
    async with conn.lock:
        conn.push({"type": "message", "message_id": 2})
        conn.push({"type": "message", "message_id": 2})
    # A catch-up after the push finds 2 again (and 3, committed meanwhile): only 3 is new.
    await conn.catch_up(paged([entries(2, 3)])[0])
    await conn.close()
    assert [f["message_id"] for f in ws.frames if f["type"] == "message"] == [1, 2, 3]
    assert conn.cursor == 3


async def test_a_catch_up_for_a_known_message_reads_no_empty_page_and_skips_what_was_carried():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    await conn.replay(paged([entries(1)])[0], after=0)
    fetch, asked = paged([entries(2), entries(3, 4), entries(5)])
    await conn.catch_up(fetch, newest=4)  # 4 was just acknowledged: stop on the page that holds it
    assert asked == [1, 2]
    await conn.catch_up(fetch, newest=3)  # a catch-up that came late finds it carried: no read at all
    assert asked == [1, 2]
    await conn.catch_up(fetch)  # without a known id it reads until an empty page, as before
    await conn.close()
    assert asked == [1, 2, 4, 5]
    assert [f["message_id"] for f in ws.frames if f["type"] == "message"] == [1, 2, 3, 4, 5]


async def test_a_reply_pushed_ahead_does_not_hide_an_older_message_from_the_catch_up():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    await conn.replay(paged([entries(1)])[0], after=0)
    async with conn.lock:  # a reply (3) goes out directly before the catch-up of message 2 ran
        conn.push({"type": "message", "message_id": 3})
    fetch, asked = paged([entries(2, 3)])
    await conn.catch_up(fetch, newest=2)
    await conn.close()
    assert asked == [1]
    assert [f["message_id"] for f in ws.frames if f["type"] == "message"] == [1, 3, 2]


def late_reads(stored: list[int]):
    """The desk's read of recent messages at or below an id that a socket lacks; records each ask."""
    asked = []

    async def late(up_to: int, have: frozenset[int]) -> list[ConversationEntry]:
        asked.append(up_to)
        return entries(*[i for i in stored if i <= up_to and i not in have])
    return late, asked


async def test_a_catch_up_finds_a_message_its_reads_passed_over_below_the_cursor():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    await conn.replay(paged([entries(1)])[0], after=0, have=frozenset())
    # 3 was read while 2 was still uncommitted; then 2 committed and its catch-up came.
    await conn.catch_up(paged([entries(3)])[0], newest=3, late=late_reads([1, 2, 3])[0])
    late, asked = late_reads([1, 2, 3])
    await conn.catch_up(paged([])[0], newest=2, late=late)
    await conn.catch_up(paged([])[0], newest=2, late=late)  # carried now: nothing is read again
    await conn.close()
    assert asked == [3]
    assert [f["message_id"] for f in ws.frames if f["type"] == "message"] == [1, 3, 2]


async def test_a_replay_for_a_client_that_lists_what_it_shows_starts_with_what_it_lacks():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    late, asked = late_reads([1, 2, 3, 4])
    await conn.replay(paged([entries(5)])[0], after=4, late=late, have=frozenset({1, 3, 4}))
    await conn.close()
    assert asked == [4]
    assert [f.get("message_id") for f in ws.frames] == [2, 5, None]
    assert ws.frames[-1] == {"type": "synced", "last_message_id": 5}


async def test_an_older_widget_is_never_sent_anything_at_or_below_its_resume_point():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    late, asked = late_reads([1, 2, 3, 4, 5, 6, 7])
    await conn.replay(paged([entries(5)])[0], after=4, late=late)  # no "have": the replay starts after 4
    await conn.catch_up(paged([entries(7)])[0], newest=3, late=late)  # a resent message it shows already
    assert asked == []
    await conn.catch_up(paged([entries(7)])[0], newest=7, late=late)  # 6 is not committed yet
    await conn.catch_up(paged([])[0], newest=6, late=late)  # now it is: found below the cursor, 1-4 are not sent
    await conn.close()
    assert asked == [7]
    assert [f["message_id"] for f in ws.frames if f["type"] == "message"] == [5, 7, 6]


async def test_a_stalled_socket_is_closed_instead_of_blocking(monkeypatch):
    monkeypatch.setattr(connection, "MAX_BACKLOG", 5)
    ws = FakeSocket(stalled=True)
    conn = Connection(ws, "v", "127.0.0.1")
    for i in range(10):
        conn.post({"type": "typing", "author": "operator"})  # never blocks, whatever the socket does
    assert conn._closer is not None
    conn._writer.cancel()  # the stalled write would otherwise wait for close()'s grace period
    await conn._closer
    assert ws.closed and ws.close_code == 1013 and not conn.open


class FakeDesk:
    """The two reads a catch-up uses; ``page`` caps the shared read as the desk's page does."""

    def __init__(self, stored: dict[str, list[int]], page: int = 500):
        self.stored, self.page, self.shared_reads, self.single_reads = stored, page, [], []

    async def conversations(self, channel: str, after: dict[str, int]) -> dict:
        self.shared_reads.append(dict(after))
        rows = sorted((i, chat) for chat, a in after.items() for i in self.stored[chat] if i > a)[:self.page]
        found: dict[str, list] = {}
        for i, chat in rows:
            found.setdefault(chat, []).extend(entries(i))
        return found

    async def conversation(self, channel: str, chat_id: str, after_id: int) -> list:
        self.single_reads.append((chat_id, after_id))
        return entries(*[i for i in self.stored[chat_id] if i > after_id][:self.page])

    async def late_messages(self, channel: str, chat_id: str, up_to_id: int, have, window: int) -> list:
        recent = [i for i in self.stored[chat_id] if i <= up_to_id][-window:]
        return entries(*[i for i in recent if i not in have])


async def test_catch_ups_of_several_visitors_share_one_read_and_a_short_page_reads_on():
    from bot.config import WebchatSettings
    from channels.webchat.adapter import WebchatChannel

    desk = FakeDesk({"a": [1, 3, 5], "b": [2, 4]}, page=3)
    chat = WebchatChannel(WebchatSettings(), desk)
    sockets = {v: FakeSocket() for v in "ab"}
    conns = {v: Connection(ws, v, "127.0.0.1") for v, ws in sockets.items()}
    for conn in conns.values():
        chat.register(conn)
    await asyncio.gather(chat.catch_up("a", newest=5), chat.catch_up("b", newest=4))
    for conn in conns.values():
        await conn.close()
    # The shared page held 1, 2, 3 only: "a" read on by itself up to 5, and so did "b" up to 4.
    assert [f["message_id"] for f in sockets["a"].frames] == [1, 3, 5]
    assert [f["message_id"] for f in sockets["b"].frames] == [2, 4]
    assert len(desk.shared_reads) == 1 and desk.shared_reads[0] == {"a": 0, "b": 0}
    assert sorted(desk.single_reads) == [("a", 3), ("b", 2)]


async def test_a_visitor_far_behind_the_others_reads_on_its_own_and_misses_nothing():
    from bot.config import WebchatSettings
    from channels.webchat import adapter
    from channels.webchat.adapter import WebchatChannel

    desk = FakeDesk({"a": [1], "b": [adapter.SHARED_SPAN + 10]})
    chat = WebchatChannel(WebchatSettings(), desk)
    sockets = {v: FakeSocket() for v in "ab"}
    conns = {v: Connection(ws, v, "127.0.0.1") for v, ws in sockets.items()}
    for v, conn in conns.items():
        chat.register(conn)
        await conn.replay(chat.fetcher(v), 0)
    desk.stored["a"].append(adapter.SHARED_SPAN + 11)
    desk.stored["b"].append(adapter.SHARED_SPAN + 12)
    desk.shared_reads.clear()
    await asyncio.gather(chat.catch_up("a", newest=adapter.SHARED_SPAN + 11),
                         chat.catch_up("b", newest=adapter.SHARED_SPAN + 12))
    for conn in conns.values():
        await conn.close()
    assert desk.shared_reads == [{"b": adapter.SHARED_SPAN + 10}]  # "a" would drag every id since 1 into it
    assert [f["message_id"] for f in sockets["a"].frames if f["type"] == "message"] == [1, adapter.SHARED_SPAN + 11]
    assert [f["message_id"] for f in sockets["b"].frames if f["type"] == "message"] == \
        [adapter.SHARED_SPAN + 10, adapter.SHARED_SPAN + 12]


async def chat_after_a_late_commit():
    """A socket that was shown 1 and 3; then 2 commits late and 4 arrives."""
    from bot.config import WebchatSettings
    from channels.webchat.adapter import WebchatChannel

    desk = FakeDesk({"a": [1, 3]})
    chat = WebchatChannel(WebchatSettings(), desk)
    ws = FakeSocket()
    conn = Connection(ws, "a", "127.0.0.1")
    chat.register(conn)
    await conn.replay(chat.fetcher("a"), 0, chat.late_fetcher("a"), frozenset())
    desk.stored["a"] = [1, 2, 3, 4]  # 2 committed after 3 was read; 4 is new
    return desk, chat, ws, conn


async def test_a_relayed_reply_that_the_reads_passed_over_is_found_and_a_note_naming_only_the_chat_still_works():
    desk, chat, ws, conn = await chat_after_a_late_commit()
    await chat.relayed("a 2")  # another process sent 2
    desk.stored["a"].append(5)
    await chat.relayed("a")  # a process of the previous release names the chat only
    await conn.close()
    assert [f["message_id"] for f in ws.frames if f["type"] == "message"] == [1, 3, 4, 2, 5]


async def test_catch_ups_that_share_a_read_each_find_their_message_even_one_committed_late():
    desk, chat, ws, conn = await chat_after_a_late_commit()
    await asyncio.gather(chat.catch_up("a", newest=2), chat.catch_up("a", newest=4))
    await conn.close()
    assert len(desk.shared_reads) == 1
    assert [f["message_id"] for f in ws.frames if f["type"] == "message"] == [1, 3, 4, 2]


async def test_the_desks_messages_it_carried_wait_for_seen_and_are_reported_once():
    conn = Connection(FakeSocket(), "v", "127.0.0.1")
    async with conn.lock:
        conn.push({"type": "message", "message_id": 5, "author": "client"})  # the visitor's own: nothing to report
        for i in (9, 6):  # 6 arrives late, after 9
            conn.push({"type": "message", "message_id": i, "author": "operator"})
    assert conn.unseen_up_to(8) == [6]
    assert conn.unseen_up_to(9) == [6, 9]
    conn.reported([6, 9])
    assert conn.unseen_up_to(100) == []
    await conn.close()


async def test_the_ids_waiting_for_seen_are_bounded_and_the_newest_are_kept():
    conn = Connection(FakeSocket(), "v", "127.0.0.1")
    async with conn.lock:
        for i in range(1, connection.MAX_UNSEEN + 101):
            conn.push({"type": "message", "message_id": i, "author": "bot"})
    waiting = conn.unseen_up_to(10**9)
    assert len(waiting) == connection.MAX_UNSEEN and waiting[0] == 101
    await conn.close()


async def test_a_long_conversation_keeps_a_bounded_memory_of_pushed_ids_and_never_repeats_one():
    ws = FakeSocket()
    conn = Connection(ws, "v", "127.0.0.1")
    total = connection.MAX_PUSHED * 3

    async def written() -> None:  # let the writer keep up, as a reading widget does
        while conn._queue.qsize():
            ws.wrote.clear()
            await ws.wrote.wait()

    async with conn.lock:
        for i in range(1, total + 1):
            conn.push({"type": "message", "message_id": i, "author": "client"})
            if i % 100 == 0:
                await written()
        assert len(conn._pushed) <= connection.MAX_PUSHED
        for i in (1, total // 2, total):  # pushed again (a catch-up and a send crossing): still once
            conn.push({"type": "message", "message_id": i, "author": "client"})
        conn.push({"type": "message", "message_id": total + 1, "author": "client"})
    await conn.close()
    sent = [f["message_id"] for f in ws.frames]
    assert sent == list(range(1, total + 2))
