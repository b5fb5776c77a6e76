"""Self-service figures: FAQ retrieval and language detection accuracy, each beside a plain baseline.

- FAQ retrieval on bench/data/faq_questions.csv (hand-written questions in en, ru, hu, lv, de,
  uk, each labelled with the article that answers it, or none): top-1 accuracy on the answerable
  ones and the share of unanswerable ones correctly declined, at the configured threshold. The
  baseline is the same index with exact words only (no stemming, character n-grams, concepts or
  typo correction), at its own best threshold.
- Language detection on the `language` column of the shared routing set (../shared/data/routing/
  dev.csv), all messages and the short ones (at most 3 words); a message the bot declines to
  guess counts as wrong here. The baseline is py3langid choosing freely among all its languages.

`python -m bench.selfservice` measures and merges these figures into bench/results.json.
"""
from __future__ import annotations

import copy
import csv
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from bot.dialogue.i18n import default_catalogs
from bot.dialogue.knowledge import load_knowledge_base
from bot.dialogue.language import WORD, LanguageDetector
from bot.dialogue.retrieval import FaqIndex

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "data" / "faq_questions.csv"
DEMO_KB = HERE.parent / "bot" / "demo_kb"
DEV_CSV = HERE.parent.parent / "shared" / "data" / "routing" / "dev.csv"
RESULTS = HERE / "results.json"
THRESHOLD = 0.3  # bot/demo.toml's faq_threshold
LANGUAGES = ("en", "ru", "uk", "hu", "lv", "lt", "et", "de", "pl")
PREFIX = "self-service"


class ExactWordIndex(FaqIndex):
    """The baseline: TF-IDF over exact lower-case words, nothing else."""

    def _features(self, text, language):
        words = Counter(w for w in WORD.findall(text.lower()) if len(w) >= 3)
        return {"w": words, "c": Counter(), "k": Counter()}

    def _correct(self, term, language):
        return term


def _faq_scores(index: FaqIndex, rows: list[dict], threshold: float) -> tuple[float, float, dict]:
    answerable = [r for r in rows if r["article"]]
    unanswerable = [r for r in rows if not r["article"]]
    per_language: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    right = declined = 0
    for row in rows:
        hits = index.search(row["text"], row["language"])
        best = hits[0] if hits and hits[0].score >= threshold else None
        ok = (best is not None and best.article_id == row["article"]) if row["article"] else best is None
        right += bool(ok and row["article"])
        declined += bool(ok and not row["article"])
        per_language[row["language"]][0] += ok
        per_language[row["language"]][1] += 1
    return (right / len(answerable), declined / len(unanswerable),
            {lang: f"{ok}/{n}" for lang, (ok, n) in sorted(per_language.items())})


def _figure(name, value, unit, anchor_name, anchor_value, target, detail=None, *, at_most=False):
    """``at_most``: a cost (time), where the ratio to the anchor should stay below the target."""
    ratio = value / anchor_value if anchor_value else None
    met = ratio is not None and (ratio <= target if at_most else ratio >= target)
    figure = {"name": f"{PREFIX}: {name}", "value": round(value, 3), "unit": unit,
              "anchor": {"name": anchor_name, "value": round(anchor_value, 3)},
              "ratio": round(ratio, 3) if ratio is not None else None,
              "target": f"ratio {'<=' if at_most else '>='} {target}", "met": met}
    if detail:
        figure["detail"] = detail
    return figure


def measure_faq() -> list[dict]:
    rows = list(csv.DictReader(QUESTIONS.open(encoding="utf-8", newline="")))
    kb = load_knowledge_base(DEMO_KB)
    ours = FaqIndex(kb)
    top1, declined, per_language = _faq_scores(ours, rows, THRESHOLD)
    baseline = ExactWordIndex(kb)
    best = max((_faq_scores(baseline, rows, t / 100) for t in range(5, 80, 5)), key=lambda s: s[0] + s[1])
    micros = _time_per_item(lambda row: ours.search(row["text"], row["language"]), rows)
    base_micros = _time_per_item(lambda row: baseline.search(row["text"], row["language"]), rows)
    counts = Counter("answerable" if r["article"] else "unanswerable" for r in rows)
    anchor = "exact-word TF-IDF at its best threshold"
    return [
        _figure("FAQ top-1 accuracy", top1, "share", anchor, best[0], 1.0,
                {"questions": counts["answerable"], "threshold": THRESHOLD, "correct per language": per_language}),
        _figure("FAQ correctly declined", declined, "share", anchor, best[1], 1.0,
                {"questions": counts["unanswerable"], "threshold": THRESHOLD}),
        _figure("FAQ search time", micros, "µs/question", "exact-word TF-IDF search time", base_micros, 20.0,
                {"articles": len(kb.articles)}, at_most=True),
    ]


def _time_per_item(work, items, rounds: int = 3) -> float:
    """The best of a few rounds, in µs per item (the machine is shared; the best round is the least disturbed)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            work(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def measure_language() -> list[dict]:
    if not DEV_CSV.exists():
        print(f"{DEV_CSV} is missing: language detection not measured", file=sys.stderr)
        return []
    rows = list(csv.DictReader(DEV_CSV.open(encoding="utf-8", newline="")))
    markers = {lang: t.own_words("markers") for lang, t in default_catalogs().translators.items()}
    detector = LanguageDetector(LANGUAGES, markers)
    detector.warm_up()
    from bot.dialogue.language import full_identifier

    free = full_identifier()  # the model file the detector read (reading it again took about 0.4 s)
    short = [r for r in rows if len(WORD.findall(r["text"])) <= 3]
    figures = []
    for label, subset in (("all messages", rows), ("short messages (<= 3 words)", short)):
        ours = sum(1 for r in subset if (g := detector.detect(r["text"])) and g.language == r["language"])
        none = sum(1 for r in subset if detector.detect(r["text"]) is None)
        base = sum(1 for r in subset if free.classify(r["text"])[0] == r["language"])
        figures.append(_figure(f"language detection accuracy, {label}", ours / len(subset), "share",
                               "py3langid among all its languages", base / len(subset), 1.0,
                               {"messages": len(subset), "no guess (the channel's language decides)": none}))
    restricted = copy.copy(free)  # set_languages replaces the copy's arrays, the shared full model stays
    restricted.set_languages(list(LANGUAGES))
    micros = _time_per_item(lambda r: detector.detect(r["text"]), rows)
    base_micros = _time_per_item(lambda r: restricted.classify(r["text"]), rows)
    figures.append(_figure("language detection time", micros, "µs/message", "py3langid restricted, alone",
                           base_micros, 3.0, at_most=True))
    return figures


def measure_self_service() -> list[dict]:
    return measure_faq() + measure_language()


def merge_into_results(figures: list[dict], path: Path = RESULTS) -> None:
    """Replace this module's figures in results.json, keeping everyone else's."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {"figures": []}
    kept = [f for f in data.get("figures", []) if not str(f.get("name", "")).startswith(PREFIX)]
    data["figures"] = kept + figures
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main() -> int:
    figures = measure_self_service()
    merge_into_results(figures)
    for f in figures:
        anchor = f" (baseline {f['anchor']['value']}, ratio {f['ratio']})" if "anchor" in f else ""
        print(f"{f['name']}: {f['value']} {f['unit']}{anchor}")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
