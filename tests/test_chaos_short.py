"""The short `make chaos`: three SIGKILLs of a real `helpline run` on SQLite under web-chat, SMTP and
REST traffic; nothing acknowledged may be lost or stored twice, every queued reply must be sent."""
from __future__ import annotations

import json

from bench import chaos


def test_three_kills_lose_and_duplicate_nothing(tmp_path, capsys):
    out = tmp_path / "chaos.json"
    # A generous bound: the run ends once its kills are done; a loaded machine only restarts slower.
    code = chaos.main(["--quick", "--kills", "3", "--seed", "8", "--time-budget", "90", "--out", str(out)])
    result = json.loads(out.read_text())["sqlite"]
    printed = capsys.readouterr().out
    assert "error" not in result, printed
    assert result["kills"] == 3, printed
    assert result["acknowledged"] > 0 and result["sent"] >= result["acknowledged"], printed
    assert result["lost"] == 0 and result["duplicated"] == 0, printed
    assert result["outbound_queued"] > 0, printed
    assert result["outbound_delivered"] == result["outbound_queued"], printed
    assert result["integrity"] == "ok" and result["double_assigned"] == 0, printed
    assert code == 0, printed
