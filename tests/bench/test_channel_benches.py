"""The channel benchmarks' own logic: the corpus they send, the figures they report, a missing peer."""
from __future__ import annotations

import email
from collections import Counter
from email import policy

from bench import email as email_bench
from bench import newtickets
from bench.deskproc import figure
from bench.telegram import stream


def test_email_corpus_gives_every_copy_its_own_message_id_and_threads_replies_to_earlier_ones():
    mails, replies = email_bench.build(200, "t1")
    parsed = [email.message_from_bytes(raw, policy=policy.compat32) for _, raw in mails]
    ids = [m["Message-ID"] for m in parsed]
    assert len(mails) == 200 and replies > 0
    assert len(set(ids)) == len(ids), "a repeated Message-ID would be stored once by the desk"
    assert all(len(m.get_all("Message-ID")) == 1 for m in parsed)
    seen: dict[str, str] = {}
    for (sender, _), m in zip(mails, parsed):
        parent = m["In-Reply-To"]
        if parent and m["Subject"] == "Re: my earlier message":
            assert parent in seen, "a reply must follow its original"
            assert seen[parent] == sender, "only the ticket's client joins the thread"
        seen[m["Message-ID"]] = sender


def test_email_corpus_is_the_standard_librarys_real_world_messages():
    files = email_bench.corpus_files()
    assert len(files) > 40
    assert any(b"koi8-r" in raw.lower() for raw in files)


def test_telegram_stream_writes_from_new_chats_each_run():
    first, second = stream(5, 0), stream(5, 5)
    chats = {u["message"]["chat"]["id"] for u in first + second}
    assert len(chats) == 10


def test_a_figure_without_its_anchor_is_not_met_and_says_why():
    f = figure("x/s", 10.0, "x/s", "peer", None, 0.5, "anchor missing: run `make bench`")
    assert f["anchor"] is None and f["ratio"] is None and f["met"] is False
    assert "make bench" in f["note"]
    g = figure("x/s", 10.0, "x/s", "peer", 4.0, 2.0)
    assert g["ratio"] == 2.5 and g["met"] is True and g["target"] == "ratio >= 2.0"


def test_new_tickets_without_the_peer_venv_reports_no_anchor_instead_of_failing(monkeypatch, tmp_path):
    async def desk(n, url, budget, before=None):
        assert before is None, "no peer to measure beside the desk"
        return 123.0, Counter()

    monkeypatch.setattr(newtickets, "PEER_VENV", tmp_path / "missing")
    monkeypatch.setattr(newtickets, "measure_desk", desk)
    [f] = newtickets.measure(quick=True, database_url=None)
    assert f["value"] == 123.0 and f["anchor"] is None and f["met"] is False
    assert "bench/.peer-venv" in f["note"] and "make bench" in f["note"]
