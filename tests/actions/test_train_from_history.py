"""`helpline router train --from-history`: the desk's corrections become labelled examples."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.actions.operators import viewer_of
from bot.actions.routing import mark_wrong_queue, route_ticket
from bot.actions.tickets import reply_to_ticket, transfer_ticket
from bot.storage.models import Operator, utcnow
from bot.storage.routing_queries import corrections
from tests.actions.routing_helpers import QUEUES, add_operator, client_writes, close_desk, fixed_router, open_desk
from tests.router.test_cli import ROWS, helpline


@pytest.fixture
async def desk(tmp_path, database_url):
    desk = await open_desk(tmp_path, database_url)
    yield desk
    await close_desk(desk)


async def viewer(desk, username):
    async with desk.sessions() as s:
        op = (await s.execute(select(Operator).options(selectinload(Operator.queues))
                              .where(Operator.username == username))).scalar_one()
    return viewer_of(op)


async def routed(desk, text):
    ticket_id = await client_writes(desk, text)
    await route_ticket(desk, fixed_router("delivery"), ticket_id, utcnow())
    return ticket_id


async def test_transfers_before_the_first_reply_and_wrong_queue_marks_are_corrections(desk):
    await add_operator(desk, "boss", role="supervisor", queues=QUEUES)
    boss = await viewer(desk, "boss")
    early = await routed(desk, "I was charged twice for one order")
    late = await routed(desk, "My parcel is late, and I want a refund too")
    marked = await routed(desk, "The app crashes when I pay")
    back_and_forth = await routed(desk, "Parcel is at the wrong pickup point")
    await transfer_ticket(desk, boss, early, queue="billing")
    await reply_to_ticket(desk, boss, late, "Looking into it")
    await transfer_ticket(desk, boss, late, queue="returns")  # after the first reply: a new topic, not a mistake
    await mark_wrong_queue(desk, boss, marked, "general")
    await transfer_ticket(desk, boss, back_and_forth, queue="billing")
    await transfer_ticket(desk, boss, back_and_forth, queue="delivery")  # moved back: the router was right
    async with desk.sessions() as s:
        found = {(ticket_id, src, dst, how) for ticket_id, src, dst, how, _, _ in await corrections(s)}
    assert found == {(early, "delivery", "billing", "transfer"), (marked, "delivery", "general", "wrong_queue")}


async def test_train_from_history_adds_the_corrections_to_the_examples(desk, tmp_path, labelled):
    await add_operator(desk, "boss", role="supervisor", queues=QUEUES)
    ticket_id = await routed(desk, "Ich wurde zweimal belastet")
    await mark_wrong_queue(desk, await viewer(desk, "boss"), ticket_id, "billing")
    config = tmp_path / "helpline.toml"
    queues = "".join(f'[[queues]]\nname = "{q}"\n' for q in QUEUES + ["tech", "sales"])
    config.write_text(f'[desk]\ndata_dir = "{tmp_path / "data"}"\ndatabase_url = "{desk.settings.database_url}"\n'
                      f'[web]\nsecret_key = "{"x" * 40}"\n{queues}', encoding="utf-8")
    out = tmp_path / "model.joblib"
    result = helpline("router", "train", "--from-history", "--data", str(labelled), "--config", str(config),
                      "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 corrected routing decision(s)" in result.stderr
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["examples"] == len(ROWS) + 3 and manifest["source"].endswith("+ desk history")


@pytest.fixture
def labelled(tmp_path):
    import csv

    path = tmp_path / "labelled.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "language", "queue"])
        writer.writerows(ROWS)
    return path
