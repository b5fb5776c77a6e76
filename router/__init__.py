"""Routing policy: text -> queue, queue -> operator, SLA clock (decides from values, no storage)."""
