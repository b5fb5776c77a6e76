"""Model files: a joblib file plus a JSON manifest beside it (version, labels, training data).

A pickled scikit-learn model is only safe to load with the scikit-learn it was made with, so the
manifest records that version and `load_model` refuses another major.minor with a message that
says how to retrain. Load models only from paths the admin configured: unpickling runs code.
"""
from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path

from router.classifier import TextClassifier
from router.compiled import file_digest, scorer_path
from router.compiled import load as load_scorer
from router.compiled import save as save_scorer
from router.errors import ModelError

FORMAT = 1
PACKAGE_DATA = Path(__file__).with_name("data")
SHIPPED_MODEL = PACKAGE_DATA / "model.joblib"
SHIPPED_EXAMPLES = PACKAGE_DATA / "train.csv"


def manifest_path(path: Path) -> Path:
    """The manifest that belongs to a model file."""
    return Path(path).with_suffix(".json")


def _sklearn_version() -> str:
    from importlib.metadata import version

    return version("scikit-learn")  # without importing it (about 1.1 s of CPU)


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def save_model(classifier: TextClassifier, path: Path, *, examples: int, per_queue: dict[str, int],
               languages: dict[str, int], source: str = "") -> Path:
    """Write the model and its manifest (the manifest last, so a half-written model is never taken)."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = manifest_path(path)
    manifest.unlink(missing_ok=True)
    scorer_path(path).unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    joblib.dump(classifier.pipeline, tmp, compress=3)
    tmp.replace(path)
    if classifier.parts:  # the checked fast path, as arrays that load without scikit-learn
        save_scorer(scorer_path(path), file_digest(path), classifier.labels, classifier.parts,
                    classifier._fast.weights, classifier._fast.intercept)
    info = {
        "format": FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sklearn": _sklearn_version(),
        "labels": list(classifier.labels),
        "examples": examples,
        "per_queue": per_queue,
        "languages": languages,
        "source": source,
    }
    manifest.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_manifest(path: Path) -> dict:
    """The manifest of a model file, checked for presence and format."""
    manifest = manifest_path(path)
    if not Path(path).is_file():
        raise ModelError(f"no model at {path}; train one with `helpline router train --data FILE.csv`")
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"the model {path} has no manifest {manifest.name} (the training did not finish); "
                         "train it again with `helpline router train --data FILE.csv`") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"the manifest {manifest} cannot be read ({exc}); train the model again") from None
    if info.get("format") != FORMAT:
        raise ModelError(f"the model {path} has format {info.get('format')!r}, this helpline reads format "
                         f"{FORMAT}; train it again with `helpline router train --data FILE.csv`")
    return info


def load_model(path: Path) -> TextClassifier:
    """Load a model written by `save_model` with a compatible scikit-learn (its scorer arrays when they
    were saved for this file: then scikit-learn is imported only if the pipeline itself is needed)."""
    info = read_manifest(path)
    installed = _sklearn_version()
    if _minor(info.get("sklearn", "")) != _minor(installed):
        raise ModelError(f"the model {path} was trained with scikit-learn {info.get('sklearn')} but "
                         f"{installed} is installed; train it again with `helpline router train --data FILE.csv`")
    compiled = load_scorer(scorer_path(path), file_digest(path))
    if compiled is not None and list(compiled["labels"]) == list(info.get("labels", [])):
        return TextClassifier(compiled=compiled, load_pipeline=lambda: _unpickle(path))
    classifier = TextClassifier(_unpickle(path))
    if list(classifier.labels) != list(info.get("labels", [])):
        raise ModelError(f"the model {path} does not match its manifest; train it again")
    return classifier


def _unpickle(path: Path):
    import joblib

    try:
        with warnings.catch_warnings():
            # Same major.minor: a patch-level difference is safe, and the warning would only alarm.
            warnings.filterwarnings("ignore", message=".*when using version.*")
            pipeline = joblib.load(path)
    except Exception as exc:  # a damaged file can fail in many ways inside unpickling
        raise ModelError(f"the model {path} cannot be loaded ({type(exc).__name__}: {exc}); "
                         "train it again with `helpline router train --data FILE.csv`") from None
    return pipeline
