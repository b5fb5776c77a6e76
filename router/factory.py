"""Assemble a TicketRouter from plain config values and find the model it should use.

Which model: the configured `model_path`; else the one `helpline router train` wrote into the
data dir; else the model shipped in the package. The shipped model is tied to the scikit-learn
it was made with; under another version it is retrained from the shipped examples once (a few
seconds) and cached in the data dir, so a fresh install never downloads anything.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from router.classifier import TextClassifier, train
from router.data import read_examples
from router.errors import ModelError
from router.hours import BusinessHours
from router.routing import TicketRouter
from router.rules import rule_from_config
from router.store import SHIPPED_EXAMPLES, SHIPPED_MODEL, load_model, save_model

logger = logging.getLogger(__name__)


def trained_model_path(data_dir: Path) -> Path:
    """Where `helpline router train` writes when no `router.model_path` is configured."""
    return Path(data_dir) / "router" / "model.joblib"


def train_and_save(examples_path: Path, out: Path, queues: Collection[str] | None = None,
                   progress: Callable[[str], None] | None = None) -> TextClassifier:
    """Train from a CSV and write the model with its manifest."""
    examples = read_examples(examples_path, queues)
    classifier = train([e.text for e in examples], [e.queue for e in examples], progress)
    save_model(classifier, out, examples=len(examples), source=str(examples_path),
               per_queue=dict(sorted(Counter(e.queue for e in examples).items())),
               languages=dict(Counter(e.language for e in examples).most_common()))
    return classifier


def find_model(model_path: Path | None, data_dir: Path, *, shipped: Path = SHIPPED_MODEL,
               shipped_examples: Path = SHIPPED_EXAMPLES) -> tuple[TextClassifier, Path]:
    """Load the model the desk should use (see the module docstring for the order) and say which."""
    if model_path is not None:
        return load_model(model_path), Path(model_path)
    trained = trained_model_path(data_dir)
    if trained.exists():
        return load_model(trained), trained
    try:
        return load_model(shipped), shipped
    except ModelError as exc:
        import sklearn

        cached = Path(data_dir) / "router" / f"demo-model-sklearn-{sklearn.__version__}.joblib"
        if cached.exists():
            return load_model(cached), cached
        logger.warning("%s; retraining the demo model from %s into %s", exc, shipped_examples, cached)
        return train_and_save(shipped_examples, cached), cached


def create_router(*, queues: Sequence[str], triage_queue: str, confidence_threshold: float,
                  rules: Sequence[Mapping] = (), hours: BusinessHours | None = None,
                  model_path: Path | None = None, data_dir: Path = Path("var"),
                  classifier: TextClassifier | None = None) -> TicketRouter:
    """A TicketRouter from config values (rules as dicts like `[[router.rules]]`)."""
    hours = hours or BusinessHours()
    built = [rule_from_config(spec, hours) for spec in rules]
    if classifier is None:
        classifier, _path = find_model(model_path, data_dir)
    return TicketRouter(built, classifier, triage_queue=triage_queue,
                        confidence_threshold=confidence_threshold, queues=queues)
