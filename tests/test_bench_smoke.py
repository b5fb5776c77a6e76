"""The benchmark modules at toy scale: they drive a real desk and return figures in results.json's shape.

The modules' own quick modes take 15-30 s each, too long for the suite; these runs use the same code
paths (subprocess desk, echo anchor, console login, widget and console sockets) with a handful of clients.
bench/console.py has no test here: a second desk start would double the time.
"""
import pytest

from bench import memory, webchat
from bench.figures import Anchor

KEYS = {"name", "value", "unit", "anchor", "ratio", "target", "met"}


def well_formed(figures: list[dict]) -> None:
    assert figures
    for f in figures:
        assert set(f) == KEYS, f
        assert isinstance(f["value"], (int, float)), f
        # Without a target nothing is claimed: met is null then, and a bool otherwise.
        assert (f["met"] is None) if f["target"] is None else isinstance(f["met"], bool), f
        assert set(f["anchor"]) == {"name", "value"} and f["anchor"]["name"], f


async def test_web_chat_counts_each_message_once_acked_and_pushed_to_the_operator(tmp_path):
    echo = await webchat.run_echo(visitors=4, seconds=0.2)
    desk = await webchat.run_desk(tmp_path, "", processes=1, visitors=4, seconds=0.5)
    assert echo["done"] > 0 and desk["done"] > 0
    assert desk["tickets"] == desk["assigned"] == 4  # one ticket per visitor, each routed to the operator
    assert desk["p50"] <= desk["p99"]
    well_formed(webchat._figures("SQLite", desk, echo, 4))


async def test_memory_per_socket_reads_the_servers_rss():
    async with Anchor() as anchor:
        kib = await memory.per_socket(anchor.proc.pid, anchor.base.replace("http", "ws") + "/ws", 200, "hello")
    assert 0 < kib < 1024  # 200 open sockets cost the echo server something, and far less than 1 MiB each

