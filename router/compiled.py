"""A trained model's per-message arithmetic as plain arrays, read back without scikit-learn.

Importing scikit-learn costs about 1.1 s of CPU (it pulls SciPy's statistics), and every desk start
that routes paid it only to unpickle a model whose per-message work needs just the vocabularies, IDF
weights, coefficients and the two n-gram analyzers (see `_FastScorer`). `save_model` writes them
beside the joblib file (`<model>.scorer.npz`) when they score the probes exactly as the pipeline
does; `load_model` reads them with NumPy alone, tied to the model file by its SHA-256.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

# The analyzers scikit-learn's TfidfVectorizer builds without preprocessing (the text comes folded),
# as in sklearn/feature_extraction/text.py (_char_wb_ngrams, _word_ngrams): the same n-grams in the same order.
_WHITE_SPACES = re.compile(r"\s\s+")


def char_wb_analyzer(min_n: int, max_n: int):
    def analyze(text: str) -> list[str]:
        grams = []
        for w in _WHITE_SPACES.sub(" ", text).split():
            w = " " + w + " "
            for n in range(min_n, max_n + 1):
                offset = 0
                grams.append(w[:n])
                while offset + n < len(w):
                    offset += 1
                    grams.append(w[offset:offset + n])
                if offset == 0:  # a short word counts once
                    break
        return grams
    return analyze


def word_analyzer(min_n: int, max_n: int, token_pattern: str):
    tokenize = re.compile(token_pattern).findall

    def analyze(text: str) -> list[str]:
        tokens = tokenize(text)
        grams = list(tokens) if min_n == 1 else []
        for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
            grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        return grams
    return analyze


def analyzer_spec(vectorizer) -> dict:
    """What rebuilds a fitted vectorizer's analyzer here; ValueError for settings this module does not mirror."""
    if vectorizer.stop_words is not None or vectorizer.strip_accents is not None or callable(vectorizer.analyzer):
        raise ValueError("stop words, accent stripping or a custom analyzer are not mirrored")
    if vectorizer.analyzer == "char_wb":
        return {"analyzer": "char_wb", "ngram_range": list(vectorizer.ngram_range)}
    if vectorizer.analyzer == "word" and vectorizer.tokenizer is None and re.compile(vectorizer.token_pattern).groups == 0:
        return {"analyzer": "word", "ngram_range": list(vectorizer.ngram_range), "token_pattern": vectorizer.token_pattern}
    raise ValueError(f"the analyzer {vectorizer.analyzer!r} is not mirrored")


def build_analyzer(spec: dict):
    if spec["analyzer"] == "char_wb":
        return char_wb_analyzer(*spec["ngram_range"])
    return word_analyzer(*spec["ngram_range"], spec["token_pattern"])


def scorer_path(model: Path) -> Path:
    return Path(model).with_suffix(".scorer.npz")


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save(path: Path, model_digest: str, labels, parts: list[dict], weights, intercept) -> None:
    """Write the arrays (no pickles): `parts` hold spec, terms in index order, idf, offset and sublinear_tf."""
    import numpy as np

    meta = {"model_sha256": model_digest, "labels": list(labels),
            "parts": [{"spec": p["spec"], "offset": p["offset"], "sublinear": p["sublinear"], "terms": p["terms"]}
                      for p in parts]}
    arrays = {f"idf{i}": p["idf"] for i, p in enumerate(parts)}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta, ensure_ascii=False)), weights=weights, intercept=intercept, **arrays)
    tmp.replace(path)


def load(path: Path, model_digest: str) -> dict | None:
    """The arrays written by `save` for this model file, or None (absent, or made for another file)."""
    import numpy as np

    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("model_sha256") != model_digest:
                return None
            parts = [{"analyzer": build_analyzer(p["spec"]), "vocabulary": {t: i for i, t in enumerate(p["terms"])},
                      "idf": data[f"idf{i}"], "offset": p["offset"], "sublinear": p["sublinear"]}
                     for i, p in enumerate(meta["parts"])]
            return {"labels": tuple(meta["labels"]), "parts": parts, "weights": data["weights"],
                    "intercept": data["intercept"]}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):  # damaged: the pipeline decides
        return None
