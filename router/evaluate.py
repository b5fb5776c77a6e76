"""Scores of a router on labelled examples: accuracy, macro-F1, per-queue P/R/F1, confusion.

Pure functions over lists of labels, so they are checked by hand-computed examples and shared by
`helpline router eval`, cross-validation and the benchmark.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class QueueScore:
    """Precision, recall and F1 of one queue; `support` is how many examples truly belong to it."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    """Everything `router eval` prints; `confusion[gold][predicted]` counts examples."""

    total: int
    accuracy: float
    macro_f1: float
    per_queue: dict[str, QueueScore]
    confusion: dict[str, dict[str, int]]
    per_language: dict[str, tuple[int, float]] = field(default_factory=dict)  # lang -> (n, accuracy)

    def as_dict(self) -> dict:
        """A JSON-ready dict with the keys accuracy, macro_f1, per_queue and confusion."""
        return {
            "total": self.total,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_queue": {q: {"precision": round(s.precision, 4), "recall": round(s.recall, 4),
                              "f1": round(s.f1, 4), "support": s.support}
                          for q, s in self.per_queue.items()},
            "confusion": self.confusion,
            "per_language": {lang: {"total": n, "accuracy": round(acc, 4)}
                             for lang, (n, acc) in self.per_language.items()},
        }


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def confusion_matrix(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Rows are the true queues, columns the predicted ones, both in `labels` order."""
    counts = Counter(zip(gold, predicted))
    return {g: {p: counts[g, p] for p in labels} for g in labels}


def score(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None,
          languages: Sequence[str] | None = None) -> Report:
    """Compare predictions with the truth; macro-F1 averages F1 over every queue in `labels`.

    `labels` defaults to every label seen in either list, sorted; a queue with no true and no
    predicted examples scores F1 0 and still counts in the average, as in scikit-learn.
    """
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted labels differ in length")
    labels = list(labels) if labels is not None else sorted(set(gold) | set(predicted))
    for extra in sorted((set(gold) | set(predicted)) - set(labels)):
        labels.append(extra)
    matrix = confusion_matrix(gold, predicted, labels)
    per_queue = {}
    for q in labels:
        tp = matrix[q][q]
        predicted_q = sum(matrix[g][q] for g in labels)
        support = sum(matrix[q].values())
        precision, recall = _ratio(tp, predicted_q), _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
        per_queue[q] = QueueScore(precision, recall, f1, support)
    correct = sum(g == p for g, p in zip(gold, predicted))
    by_language: dict[str, tuple[int, float]] = {}
    if languages is not None:
        totals = Counter(languages)
        hits = Counter(lang for lang, g, p in zip(languages, gold, predicted) if g == p)
        by_language = {lang: (n, hits[lang] / n) for lang, n in totals.most_common()}
    return Report(
        total=len(gold),
        accuracy=_ratio(correct, len(gold)),
        macro_f1=_ratio(sum(s.f1 for s in per_queue.values()), len(labels)),
        per_queue=per_queue,
        confusion=matrix,
        per_language=by_language,
    )


def format_report(report: Report) -> str:
    """A plain-text table: summary, per-queue scores, confusion matrix, accuracy per language."""
    labels = list(report.per_queue)
    width = max(8, *(len(q) for q in labels))
    lines = [f"examples: {report.total}   accuracy: {report.accuracy:.3f}   macro-F1: {report.macro_f1:.3f}", "",
             f"{'queue':<{width}}  precision  recall     F1  support"]
    for q, s in report.per_queue.items():
        lines.append(f"{q:<{width}}  {s.precision:9.3f}  {s.recall:6.3f}  {s.f1:5.3f}  {s.support:7d}")
    cell = max(5, *(min(len(q), 8) for q in labels))
    lines += ["", "confusion matrix (rows: true queue, columns: predicted)",
              f"{'':<{width}}  " + " ".join(f"{q[:8]:>{cell}}" for q in labels)]
    for g in labels:
        lines.append(f"{g:<{width}}  " + " ".join(f"{report.confusion[g][p]:>{cell}}" for p in labels))
    if report.per_language:
        lines += ["", "accuracy per language: " + "  ".join(
            f"{lang} {acc:.2f} ({n})" for lang, (n, acc) in report.per_language.items())]
    return "\n".join(lines)
