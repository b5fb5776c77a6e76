"""Model files: a round trip, and clear refusals of what cannot be loaded."""
import json

import pytest

from router.classifier import train
from router.errors import ModelError
from router.store import load_model, manifest_path, save_model

TEXTS = ["where is my parcel", "parcel not delivered", "courier did not come",
         "charged twice", "refund the double payment", "invoice please"] * 3
QUEUES = ["delivery", "delivery", "delivery", "billing", "billing", "billing"] * 3


@pytest.fixture(scope="module")
def tiny_model():
    return train(TEXTS, QUEUES)


def test_round_trip_keeps_predictions_and_writes_a_manifest(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "m" / "model.joblib", examples=18, per_queue={"billing": 9, "delivery": 9},
                      languages={"en": 18})
    info = json.loads(manifest_path(path).read_text())
    assert info["labels"] == ["billing", "delivery"] and info["examples"] == 18 and info["sklearn"]
    loaded = load_model(path)
    assert loaded.predict("my parcel is late") == tiny_model.predict("my parcel is late")


def test_refuses_a_model_from_another_scikit_learn(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "model.joblib", examples=18, per_queue={}, languages={})
    info = json.loads(manifest_path(path).read_text())
    manifest_path(path).write_text(json.dumps(info | {"sklearn": "0.24.2"}))
    with pytest.raises(ModelError, match=r"trained with scikit-learn 0\.24\.2 but .* is installed; train it again"):
        load_model(path)


def test_refuses_missing_model_missing_manifest_and_damaged_file(tmp_path, tiny_model):
    with pytest.raises(ModelError, match="no model at"):
        load_model(tmp_path / "none.joblib")
    path = save_model(tiny_model, tmp_path / "model.joblib", examples=18, per_queue={}, languages={})
    path.write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot be loaded"):
        load_model(path)
    manifest_path(path).unlink()
    with pytest.raises(ModelError, match="has no manifest"):
        load_model(path)


def test_which_model_the_desk_uses(tmp_path, tiny_model, caplog):
    import csv

    from router.factory import find_model, trained_model_path

    shipped = save_model(tiny_model, tmp_path / "pkg" / "model.joblib", examples=18, per_queue={}, languages={})
    examples = tmp_path / "pkg" / "train.csv"
    with examples.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("text", "language", "queue"), *((t, "en", q) for t, q in zip(TEXTS, QUEUES))])
    data_dir = tmp_path / "var"
    assert find_model(None, data_dir, shipped=shipped, shipped_examples=examples)[1] == shipped

    # A shipped model from another scikit-learn: retrained once from the shipped examples, then cached.
    info = json.loads(manifest_path(shipped).read_text())
    manifest_path(shipped).write_text(json.dumps(info | {"sklearn": "0.24.2"}))
    classifier, used = find_model(None, data_dir, shipped=shipped, shipped_examples=examples)
    assert used.parent == data_dir / "router" and used.exists() and "retraining the demo model" in caplog.text
    assert classifier.predict("parcel late").queue == "delivery"
    assert find_model(None, data_dir, shipped=shipped, shipped_examples=examples)[1] == used

    # What `helpline router train` wrote wins over the shipped model; a configured path wins over both.
    trained = save_model(tiny_model, trained_model_path(data_dir), examples=18, per_queue={}, languages={})
    assert find_model(None, data_dir, shipped=shipped, shipped_examples=examples)[1] == trained
    with pytest.raises(ModelError, match="no model at"):
        find_model(tmp_path / "configured.joblib", data_dir)
