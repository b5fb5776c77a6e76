"""Several web chat conversations read at once: each after its own id, none of another chat's."""
from __future__ import annotations

from datetime import datetime, timezone

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
