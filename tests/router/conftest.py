"""Router fixtures: the shipped demo model, loaded once, and a stand-in classifier."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from router.classifier import Prediction


@pytest.fixture(scope="session")
def shipped_model():
    from router.store import SHIPPED_MODEL, load_model

    return load_model(SHIPPED_MODEL)


@dataclass
class FixedClassifier:
    """Answers every message with the same queue and confidence, and counts the calls."""

    queue: str = "general"
    confidence: float = 0.9
    calls: int = 0

    def predict(self, text: str, folded: str | None = None) -> Prediction:
        self.calls += 1
        return Prediction(self.queue, self.confidence)

    def predict_many(self, texts):
        return [self.predict(t) for t in texts]


@pytest.fixture
def fixed_classifier():
    return FixedClassifier
