"""Operations endpoints: liveness (`/healthz`) and Prometheus metrics (`/metrics`)."""
from __future__ import annotations

from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from bot.actions.retention import retention_status
from bot.storage import queries
from bot.web import DESK


async def healthz(request: web.Request) -> web.Response:
    """Alive and able to reach the database; when the retention job last ran and what waits for it."""
    desk = request.app[DESK]
    try:
        async with desk.sessions() as s:
            await queries.ping(s)
        retention = await retention_status(desk)
    except Exception as exc:
        return web.json_response({"status": "unhealthy", "database": type(exc).__name__}, status=503)
    last = retention["last_run"]
    return web.json_response({"status": "ok", "retention": {
        "enabled": retention["enabled"], "last_run": last["at"] if last else None, "waiting": retention["waiting"]}})


class _Snapshot:
    """A one-shot collector over figures read from the database for this scrape."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


def _retention_families(status: dict) -> list:
    last = GaugeMetricFamily("helpline_retention_last_run_timestamp",
                             "When the retention job last ran (Unix time; 0 before its first pass)")
    last.add_metric([], datetime.fromisoformat(status["last_run"]["at"]).timestamp() if status["last_run"] else 0)
    waiting = GaugeMetricFamily("helpline_retention_waiting",
                                "Items past their retention limit, and stored files whose removal was put off",
                                labels=["kind"])
    for kind, count in sorted(status["waiting"].items()):
        waiting.add_metric([kind], count)
    return [last, waiting]


async def metrics(request: web.Request) -> web.Response:
    """Counts read from the database at scrape time, so every process reports the same truth."""
    desk = request.app[DESK]
    async with desk.sessions() as s:
        per_channel = await queries.message_counts(s)
        backlog = await queries.outbox_backlog(s)
        open_per_queue = await queries.open_tickets_per_queue(s)
    received = CounterMetricFamily("helpline_messages_received", "Client messages stored, per channel", labels=["channel"])
    sent = CounterMetricFamily("helpline_messages_sent", "Messages sent to clients, per channel", labels=["channel"])
    for (channel, direction), count in sorted(per_channel.items()):
        (received if direction == "in" else sent).add_metric([channel], count)
    outbox = GaugeMetricFamily("helpline_outbox_backlog", "Outbox items waiting to be sent")
    outbox.add_metric([], backlog)
    open_tickets = GaugeMetricFamily("helpline_open_tickets", "Tickets not yet resolved, per queue", labels=["queue"])
    for queue, count in sorted(open_per_queue.items()):
        open_tickets.add_metric([queue], count)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot([received, sent, outbox, open_tickets, *_retention_families(await retention_status(desk))]))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def setup_ops(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
