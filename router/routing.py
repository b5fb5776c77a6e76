"""TicketRouter: text -> queue. Rules first (first match wins), then the classifier, then triage.

It decides only from the values it is given and does no I/O after construction, so the desk can
call it inside any worker and tests need no database. Every decision carries its reason, which
the desk stores with the ticket.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from router.classifier import Prediction, TextClassifier
from router.rules import Message, Rule


@dataclass(frozen=True)
class RoutingDecision:
    """Where a ticket goes and why.

    `rule` names the rule that decided (confidence 1.0); otherwise `label` and `confidence` are the
    classifier's, and `queue` differs from `label` when the message went to triage.
    """

    queue: str
    reason: str
    confidence: float
    rule: str | None = None
    label: str | None = None

    @property
    def triaged(self) -> bool:
        return self.rule is None and self.queue != self.label


class TicketRouter:
    """Routes a client's message to a queue; build it once, call `route` for every new ticket."""

    def __init__(self, rules: Sequence[Rule], classifier: TextClassifier | None, *, triage_queue: str,
                 confidence_threshold: float = 0.0, queues: Collection[str] | None = None) -> None:
        self.rules = tuple(rules)
        self.classifier = classifier
        self.triage_queue = triage_queue
        self.threshold = confidence_threshold
        self.queues = frozenset(queues) if queues is not None else None

    def route(self, text: str, *, channel: str = "", language: str = "",
              now: datetime | None = None) -> RoutingDecision:
        """Decide the queue of one message (`now`: when it arrived; needed by business-hours rules)."""
        message = Message.of(text, channel=channel, language=language, now=now)
        decided = self._by_rules(message)
        if decided is not None:
            return decided
        prediction = self.classifier.predict(text, message.folded) if self.classifier and text.strip() else None
        return self._by_prediction(prediction)

    def route_many(self, items: Sequence[tuple[str, str]], *, channel: str = "",
                   now: datetime | None = None) -> list[RoutingDecision]:
        """Route (text, language) pairs at once; the classifier runs in one batch."""
        return self.route_each([Message.of(t, channel=channel, language=lang, now=now) for t, lang in items])

    def route_each(self, messages: Sequence[Message]) -> list[RoutingDecision]:
        """Route prepared messages, each with its own channel, language and time: the same decisions as
        `route` one by one, with one classifier call for those no rule decides."""
        decisions: list[RoutingDecision | None] = [self._by_rules(m) for m in messages]
        pending = [i for i, d in enumerate(decisions) if d is None and messages[i].text.strip()]
        predictions = self.classifier.predict_many([messages[i].text for i in pending]) if self.classifier else []
        by_index = dict(zip(pending, predictions))
        return [d if d is not None else self._by_prediction(by_index.get(i)) for i, d in enumerate(decisions)]

    def _by_rules(self, message: Message) -> RoutingDecision | None:
        for rule in self.rules:
            if rule.matches(message):
                return RoutingDecision(rule.queue, f"rule {rule.name}", 1.0, rule=rule.name)
        return None

    def _by_prediction(self, prediction: Prediction | None) -> RoutingDecision:
        if prediction is None:
            why = "no model" if self.classifier is None else "no text to classify"
            return RoutingDecision(self.triage_queue, f"{why}; triage", 0.0)
        label, confidence = prediction.queue, prediction.confidence
        if self.queues is not None and label not in self.queues:
            return RoutingDecision(self.triage_queue, f"classifier: {label} is not a configured queue; triage",
                                   confidence, label=label)
        if confidence < self.threshold:
            return RoutingDecision(self.triage_queue, f"classifier unsure: {label} ({confidence:.2f} < "
                                   f"{self.threshold:.2f}); triage", confidence, label=label)
        return RoutingDecision(label, f"classifier: {label} ({confidence:.2f})", confidence, label=label)
