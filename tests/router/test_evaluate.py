"""Scores on a tiny example computed by hand."""
import pytest

from router.evaluate import format_report, score


def test_scores_match_the_hand_computed_example():
    gold = ["a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "a"]
    report = score(gold, predicted, ["a", "b", "c"], languages=["en", "en", "ru", "ru", "ru"])
    assert report.accuracy == pytest.approx(3 / 5)
    # a: tp 1 of 2 predicted, 2 true -> P 1/2, R 1/2, F1 1/2
    # b: tp 2 of 3 predicted, 2 true -> P 2/3, R 1, F1 0.8
    # c: never predicted, 1 true     -> P 0, R 0, F1 0
    assert (report.per_queue["a"].precision, report.per_queue["a"].recall, report.per_queue["a"].f1) == (0.5, 0.5, 0.5)
    assert report.per_queue["b"].precision == pytest.approx(2 / 3)
    assert report.per_queue["b"].recall == 1.0 and report.per_queue["b"].f1 == pytest.approx(0.8)
    assert report.per_queue["c"].f1 == 0.0 and report.per_queue["c"].support == 1
    assert report.macro_f1 == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert report.confusion == {"a": {"a": 1, "b": 1, "c": 0}, "b": {"a": 0, "b": 2, "c": 0}, "c": {"a": 1, "b": 0, "c": 0}}
    assert report.per_language == {"ru": (3, pytest.approx(2 / 3)), "en": (2, 0.5)}


def test_a_queue_never_seen_still_counts_in_macro_f1():
    report = score(["a", "a"], ["a", "a"], ["a", "b"])
    assert report.accuracy == 1.0 and report.macro_f1 == 0.5


def test_dict_and_table_forms():
    report = score(["a", "b"], ["a", "a"], ["a", "b"])
    data = report.as_dict()
    assert {"accuracy", "macro_f1", "per_queue", "confusion"} <= set(data)
    assert data["per_queue"]["a"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    table = format_report(report)
    assert "macro-F1: 0.333" in table and "confusion matrix" in table
