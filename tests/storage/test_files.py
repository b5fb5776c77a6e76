"""The attachment store on its own: each content stored once, by key, and found again after its folders go away."""
from __future__ import annotations

import os
import shutil

from bot.storage.files import AttachmentStore

PDF = b"%PDF-1.4 " + b"\1" * 500


def store(tmp_path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "attachments", 1024 * 1024, ("application/pdf",))


def test_the_same_content_is_stored_once_and_handed_out_again(tmp_path):
    files = store(tmp_path)
    key = files.save(PDF)
    stamp = 1_000_000_000.0
    os.utime(files.path(key), (stamp, stamp))
    assert files.save(PDF) == key and files.read(key) == PDF
    assert files.path(key).stat().st_mtime > stamp  # handed out now: a removal waits its grace period
    assert [p.name for p in files.path(key).parent.iterdir()] == [key]  # no second copy, no temporary left


def test_a_store_emptied_under_a_running_desk_stores_new_files_again(tmp_path):
    files = store(tmp_path)
    first = files.save(PDF)
    shutil.rmtree(tmp_path / "attachments")  # e.g. a restore put back an empty store
    assert files.save(PDF) == first and files.read(first) == PDF
    other = files.save(PDF + b"2")
    assert files.read(other) == PDF + b"2"
