"""No stored file outlives every row that named it: an erasure marks its files pending before it commits,
so a crash right after the commit leaves them to the sweep; and the sweep walks the store a bounded step
at a time, so files no row and no marker name (left by older crashes) are removed too."""
from __future__ import annotations

import pytest

from bot.actions import privacy
from bot.actions.privacy import erase_client
from bot.actions.stored_files import sweep_files
from bot.storage.models import Client, Ticket
from tests.storage.test_file_race import DAY, PHOTO, age, key_of, later, writes


async def _client_of(desk, ticket_id: int) -> int:
    async with desk.sessions() as s:
        return (await s.get(Ticket, ticket_id)).client_id


def _orphan(desk, data: bytes, seconds_ago: float = DAY) -> str:
    """A file in the store that no row names (what a crash left before markers existed)."""
    key = desk.files.save(data)
    age(desk, key, seconds_ago)
    return key


async def test_a_crash_between_the_erasures_commit_and_the_file_removal_leaves_the_file_to_the_sweep(desk, monkeypatch):
    first = await writes(desk, "ann", "my photo")
    client_id = await _client_of(desk, first.ticket_id)
    key = await key_of(desk, first.ticket_id)
    age(desk, key, DAY)

    async def crash(*args, **kwargs):
        raise RuntimeError("the process died right after the commit")

    monkeypatch.setattr(privacy, "remove_unreferenced", crash)
    with pytest.raises(RuntimeError):
        await erase_client(desk, client_id, "test:dpo")
    monkeypatch.undo()
    async with desk.sessions() as s:
        assert (await s.get(Client, client_id)).display_name == privacy.ERASED  # the erasure committed
    assert desk.files.path(key).exists() and desk.files.pending() == [key]

    swept = await sweep_files(desk, scan=0)  # the marker alone finds it, no walk needed
    assert swept.removed == 1 and not desk.files.path(key).exists() and desk.files.pending() == []


async def test_a_pending_mark_on_a_file_a_row_still_names_is_dropped_and_the_file_kept(desk):
    kept = await writes(desk, "ann", "my photo")
    key = await key_of(desk, kept.ticket_id)
    age(desk, key, DAY)
    desk.files.mark_pending({key})  # an erasure that rolled back, or the same content in another ticket
    swept = await sweep_files(desk, later(desk))
    assert swept.removed == 0 and desk.files.read(key) == PHOTO and desk.files.pending() == []


async def test_the_sweep_walks_the_store_and_removes_old_files_no_row_names(desk):
    named = await writes(desk, "ann", "my photo")
    named_key = await key_of(desk, named.ticket_id)
    age(desk, named_key, DAY)
    old = [_orphan(desk, PHOTO + bytes([i])) for i in range(3)]
    young = _orphan(desk, PHOTO + b"just taken", seconds_ago=0)  # an upload whose row may be about to commit

    found = [sorted([*old, young, named_key])[i:i + 2] for i in (0, 2, 4)]
    assert [desk.files.stored_keys(after, 2) for after in ("", found[0][-1], found[1][-1])] == found

    removed = 0
    for _ in range(3):  # two files a step: three steps cover the five files
        removed += (await sweep_files(desk, scan=2)).removed
    assert removed == 3 and not any(desk.files.path(k).exists() for k in old)
    assert desk.files.read(named_key) == PHOTO
    assert desk.files.path(young).exists() and desk.files.pending() == [young]  # kept for its grace period
    assert (await sweep_files(desk, later(desk), scan=0)).removed == 1  # and then removed
    assert desk.files.pending() == []


async def test_the_walk_starts_again_at_the_beginning_after_the_last_file(desk):
    first = _orphan(desk, PHOTO + b"1")
    assert (await sweep_files(desk, scan=5)).removed == 1
    second = _orphan(desk, PHOTO + b"2")
    assert (await sweep_files(desk, scan=5)).removed == 1
    assert not desk.files.path(first).exists() and not desk.files.path(second).exists()
