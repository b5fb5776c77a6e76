"""A saved model's scorer arrays: they load without the pipeline and score exactly as it does."""
from __future__ import annotations

import copy

import pytest

from router.classifier import train
from router.compiled import build_analyzer, scorer_path
from router.store import SHIPPED_MODEL, load_model, save_model

TEXTS = ["where is my parcel", "parcel not delivered", "courier did not come", "charged twice",
         "refund the double payment", "invoice please", "the app crashes", "cannot log in", "password reset"] * 3
QUEUES = ["delivery"] * 3 + ["billing"] * 3 + ["tech"] * 3
QUEUES *= 3
PROBES = ["my parcel is late", "двойное  списание\t20 EUR", "a b c d", "x", "", "Köszönöm a számlát!!",
          "refund refund refund   the   invoice"]


@pytest.fixture(scope="module")
def tiny_model():
    return train(TEXTS, QUEUES)


def _probabilities(classifier, text):
    return [round(p, 6) for p in classifier.pipeline.predict_proba([text])[0]]


def test_the_analyzers_make_scikit_learns_n_grams():
    from sklearn.feature_extraction.text import TfidfVectorizer

    for params in ({"analyzer": "char_wb", "ngram_range": (2, 5)}, {"analyzer": "char_wb", "ngram_range": (1, 3)},
                   {"analyzer": "word", "ngram_range": (1, 2), "token_pattern": r"(?u)\b\w\w+\b"},
                   {"analyzer": "word", "ngram_range": (2, 3), "token_pattern": r"(?u)\b\w+\b"}):
        theirs = TfidfVectorizer(lowercase=False, **params).build_analyzer()
        spec = {"analyzer": params["analyzer"], "ngram_range": list(params["ngram_range"]),
                "token_pattern": params.get("token_pattern")}
        ours = build_analyzer(spec)
        for text in PROBES:
            assert ours(text) == theirs(text), (params, text)


def test_a_saved_model_loads_from_its_scorer_and_predicts_as_the_pipeline(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "model.joblib", examples=27, per_queue={}, languages={})
    assert scorer_path(path).is_file()
    loaded = load_model(path)
    assert loaded._pipeline is None  # nothing unpickled: scikit-learn stays unimported in a desk
    for text in PROBES:
        assert [round(p, 6) for p in loaded.probabilities(text).values()] == \
            sorted(_probabilities(tiny_model, text), reverse=True)
        assert loaded.predict(text).queue == tiny_model.predict(text).queue


def test_a_scorer_saved_for_another_model_file_is_ignored(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "model.joblib", examples=27, per_queue={}, languages={})
    stale = scorer_path(path).read_bytes()
    other = train(TEXTS, [{"delivery": "billing", "billing": "delivery"}.get(q, q) for q in QUEUES])  # two swapped
    save_model(other, path, examples=27, per_queue={}, languages={})
    scorer_path(path).write_bytes(stale)
    loaded = load_model(path)
    assert loaded.predict("my parcel is late").queue == "billing"
    scorer_path(path).write_bytes(b"damaged")
    assert load_model(path).predict("my parcel is late").queue == "billing"


def test_the_shipped_model_has_its_scorer_and_it_matches_the_pipeline():
    loaded = load_model(SHIPPED_MODEL)
    assert loaded._pipeline is None and loaded.fast
    pipeline = copy.copy(loaded).pipeline
    texts = ["where is my order NW-123456?", "Здравствуйте, двойное списание 20 EUR", "Köszönöm!", "Paldies, viss kārtībā"]
    for text, row in zip(texts, pipeline.predict_proba(texts)):
        assert loaded.probabilities(text) == pytest.approx(dict(zip(loaded.labels, row)), abs=1e-6)


def test_a_text_asked_about_again_gets_the_same_answer_from_memory(tiny_model):
    """The bot's queue guess and the router's decision ask about the same first message: the second answer is
    remembered, equals what the scorer gives afresh (one by one or in a batch), and memory stays bounded."""
    from router.classifier import RECENT_KEPT

    remembered = [tiny_model.predict(text) for text in PROBES]
    assert tiny_model.predict_many(PROBES) == remembered
    fresh = copy.copy(tiny_model)
    fresh._recent = {}
    assert [fresh.predict(text) for text in PROBES] == remembered
    for i in range(RECENT_KEPT + 10):
        tiny_model.predict(f"parcel {i}")
    assert len(tiny_model._recent) == RECENT_KEPT
