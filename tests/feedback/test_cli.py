"""`helpline demo seed`, `helpline digest` and `helpline segments` in a subprocess, as an admin runs them."""
from __future__ import annotations

import email
import json
from datetime import date, timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.test_cli import SECRET, helpline

pytestmark = pytest.mark.storage


@pytest.fixture
def cfg(tmp_path, database_url):
    port = free_port()
    path = tmp_path / "helpline.toml"
    path.write_text(f'[desk]\ndata_dir = "data"\ndatabase_url = "{database_url}"\n[web]\nsecret_key = "{SECRET}"\n'
                    + "".join(f'[[queues]]\nname = "{q}"\n' for q in ("general", "billing", "delivery", "returns", "tech", "sales", "complaints"))
                    + f'[feedback.complaints]\nqueue = "complaints"\n[feedback.digest.email]\nsmtp_port = {port}\n'
                    'sender = "digest@desk.example"\n')
    return path, port


def test_seed_then_the_digest_in_every_format(cfg, tmp_path):
    cfg, _ = cfg
    seeded = helpline("demo", "seed", "--config", str(cfg), "--days", "14", "--tickets", "150", "--json")
    assert seeded.returncode == 0, seeded.stderr
    made = json.loads(seeded.stdout)
    assert made["tickets"] == 150 and made["complaints"] > 0 and made["survey_answers"] > 0
    assert "tickets 150/150" in seeded.stderr  # progress
    period = f"{date.today() - timedelta(days=14)}:{date.today()}"
    as_json = helpline("digest", "--config", str(cfg), "--period", period, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    digest = json.loads(as_json.stdout)
    assert digest["totals"]["tickets_opened"] == 150
    assert digest["totals"]["complaints"] == sum(c["count"] for c in digest["by_category"]) == made["complaints"]
    assert digest["themes"] and all("@" not in q for t in digest["themes"] for q in t["quotes"])
    md = helpline("digest", "--config", str(cfg), "--period", period, "--format", "md")
    assert md.stdout.startswith("# ") and "## Recurring complaint themes" in md.stdout
    german = helpline("digest", "--config", str(cfg), "--period", period, "--format", "md", "--language", "de")
    assert german.returncode == 0 and "## Wiederkehrende Beschwerdethemen" in german.stdout
    assert "Recurring complaint themes" not in german.stdout
    unknown = helpline("digest", "--config", str(cfg), "--period", period, "--language", "xx")
    assert unknown.returncode != 0 and "there is no catalog for language 'xx'" in unknown.stderr
    out = tmp_path / "digest.html"
    html = helpline("digest", "--config", str(cfg), "--period", "week", "--format", "html", "--out", str(out))
    assert html.returncode == 0 and out.read_text().startswith("<!doctype html>")
    bad = helpline("digest", "--config", str(cfg), "--period", "fortnight")
    assert bad.returncode == 2 and "use week, month, day or YYYY-MM-DD:YYYY-MM-DD" in bad.stderr


def test_the_digest_by_email_now(cfg):
    cfg, port = cfg
    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sent = helpline("digest", "--config", str(cfg), "--period", "month", "--email", "boss@example.com")
    finally:
        controller.stop()
    assert sent.returncode == 0, sent.stderr
    message = email.message_from_bytes(received[0], policy=policy.default)
    assert message["To"] == "boss@example.com" and "digest" in message["Subject"]
    refused = helpline("digest", "--config", str(cfg), "--email", "boss@example.com")  # nobody listens now
    assert refused.returncode == 2 and "cannot send through 127.0.0.1" in refused.stderr


def test_segments_pin_show_and_import(cfg, tmp_path):
    cfg, _ = cfg
    assert helpline("demo", "seed", "--config", str(cfg), "--days", "5", "--tickets", "10").returncode == 0
    pinned = helpline("segments", "pin", "1", "--config", str(cfg), "--segment", "loyal", "--tag", "VIP")
    assert pinned.returncode == 0 and "client 1: loyal (pinned); tags: VIP" in pinned.stdout
    shown = helpline("segments", "show", "1", "--config", str(cfg))
    assert "-> loyal by cli" in shown.stdout
    csv = tmp_path / "segments.csv"
    csv.write_text("client_id,segment,tags\n1,gold,\n")
    bad = helpline("segments", "import", str(csv), "--config", str(cfg))
    assert bad.returncode == 2 and "line 2: unknown segment 'gold'" in bad.stderr
    csv.write_text("client_id,segment,tags\n1,difficult,VIP;disputes\n2,,press\n")
    assert "imported 2 client(s)" in helpline("segments", "import", str(csv), "--config", str(cfg)).stdout
    assert helpline("segments", "pin", "999999", "--config", str(cfg), "--tag", "x").returncode == 2
