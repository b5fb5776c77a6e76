"""Form fields the bot collects before hand-off: which ones a ticket needs, and reading them from text."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")
FIELDS = ("order_number", "email")


@dataclass(frozen=True)
class FormRule:
    """Fields asked when the guessed queue and the channel match (empty: any)."""

    queues: tuple[str, ...]
    channels: tuple[str, ...]
    fields: tuple[str, ...]

    def applies(self, queue: str | None, channel: str) -> bool:
        queue_ok = not self.queues or (queue is not None and queue in self.queues)
        return queue_ok and (not self.channels or channel in self.channels)


class FieldReader:
    """Finds field values in what a client writes; the order number pattern comes from config."""

    def __init__(self, order_pattern: str):
        self.order = re.compile(order_pattern, re.IGNORECASE)

    def find(self, field: str, text: str) -> str | None:
        if field == "order_number":
            match = self.order.search(text)
            return match.group(0).upper() if match else None
        if field == "email":
            match = EMAIL.search(text)
            return match.group(0) if match else None
        return None

    def find_all(self, text: str) -> dict[str, str]:
        found = {}
        for field in FIELDS:
            value = self.find(field, text)
            if value:
                found[field] = value
        return found


def fields_needed(rules: Sequence[FormRule], queue: str | None, channel: str) -> list[str]:
    """The fields of every matching rule, in config order, each once."""
    needed: list[str] = []
    for rule in rules:
        if rule.applies(queue, channel):
            needed += [f for f in rule.fields if f not in needed]
    return needed
