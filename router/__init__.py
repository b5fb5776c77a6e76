"""Routing policy: text -> queue, queue -> operator, SLA clock (decides from values, no storage)."""
from router.routing import RoutingDecision, TicketRouter

__all__ = ["RoutingDecision", "TicketRouter"]
