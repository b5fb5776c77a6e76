"""FAQ retrieval: which article answers a question, and how sure we are.

Three views of every text are compared, each TF-IDF weighted and cosine-scored:
- word stems (Snowball for en, ru, hu, de, lt, et, pl; a light suffix stripper for lv and uk),
  which copes with inflection ("доставку", "доставки" -> "доставк");
- character 3- and 4-grams of folded words (no case, no diacritics, Cyrillic in Latin letters),
  which copes with typos, missing accents and transliteration ("retrun", "szallitas", "gde moj zakaz");
- shared concepts (concepts.toml), which link a question to an article in another language.
An article's score is the best over its language versions; the caller answers only above a threshold.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from bot.dialogue.knowledge import Article, KnowledgeBase
from bot.dialogue.words import WordList
from router.text import fold, strip_diacritics, transliterate

WORD = re.compile(r"[^\W_]+", re.UNICODE)
SNOWBALL = {"en": "english", "ru": "russian", "hu": "hungarian", "de": "german", "lt": "lithuanian",
            "et": "estonian", "pl": "polish"}
# Light stemmers for languages Snowball lacks: the longest ending is cut, leaving at least 3 letters.
ENDINGS = {
    "lv": sorted("iem ām ēm ās ēs os us is as es ai ei am em im um ā ē ī ū a e i u s š ot at ēt īt jam jās ties".split(),
                 key=len, reverse=True),
    "uk": sorted("ами ями ові еві ого ому ими іми ах ях ам ям ою ею ів їв ий ій ої ої ти ся а я о е і ї у ю и й ь".split(),
                 key=len, reverse=True),
}
WEIGHTS = {"w": 0.45, "c": 0.35, "k": 0.5}
MIN_TYPO_LENGTH = 5  # shorter words are not corrected: too many real words lie one edit apart
HEAD_REPEAT = 2  # the title and keywords count twice: they say what the article is about


@lru_cache(maxsize=16)
def _snowball(language: str):
    import snowballstemmer

    return snowballstemmer.stemmer(SNOWBALL[language])


def stem(word: str, language: str) -> str:
    if language in SNOWBALL:
        return _snowball(language).stemWord(word)
    for ending in ENDINGS.get(language, ()):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def _plain(word: str) -> str:
    return strip_diacritics(transliterate(word))


@dataclass(frozen=True)
class Hit:
    article_id: str
    score: float
    language: str  # the version that matched best


class FaqIndex:
    """An in-memory index of a knowledge base (a few hundred articles at most)."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.concepts = [(name, WordList(words)) for name, words in kb.concepts.items()]
        docs = [self._features(self._document(a), a.language) for a in kb.articles]
        self.idf = self._idf(docs)
        self.vectors = [self._weigh(d) for d in docs]
        # Postings (term -> documents and weights), so a search touches only documents sharing a term.
        self.postings: dict[str, dict[str, list[tuple[int, float]]]] = {view: {} for view in WEIGHTS}
        for doc, vectors in enumerate(self.vectors):
            for view, vec in vectors.items():
                for term, weight in vec.items():
                    self.postings[view].setdefault(term, []).append((doc, weight))
        # Typos are corrected only towards words of the question's own language: "рецепт" (recipe)
        # must not become "receipt".
        self.vocabulary: dict[str, set[str]] = {}
        for article, doc in zip(kb.articles, docs):
            self.vocabulary.setdefault(article.language, set()).update(doc["w"])
        self.typos = {lang: self._deletions(words) for lang, words in self.vocabulary.items()}

    @staticmethod
    def _deletions(vocabulary) -> dict[str, str]:
        """Each known stem under its one-letter deletions, so a typo one edit away finds it (SymSpell)."""
        index: dict[str, str] = {}
        for word in sorted(vocabulary, key=len):
            if len(word) >= MIN_TYPO_LENGTH - 1:
                for i in range(len(word)):
                    index.setdefault(word[:i] + word[i + 1:], word)
        return index

    def _correct(self, term: str, language: str) -> str:
        """A stem the index does not know, replaced by one of the language's a single edit away (or kept)."""
        known, typos = self.vocabulary.get(language, set()), self.typos.get(language, {})
        if term in self.idf["w"] or len(term) < MIN_TYPO_LENGTH or not known:
            return term
        if term in typos:
            return typos[term]
        for i in range(len(term)):
            shorter = term[:i] + term[i + 1:]
            if shorter in known:
                return shorter
            if shorter in typos:
                return typos[shorter]
        return term

    @staticmethod
    def _document(article: Article) -> str:
        head = " . ".join([article.title, *article.keywords])
        return "\n".join([head] * HEAD_REPEAT + [article.body])

    def _features(self, text: str, language: str) -> dict[str, Counter]:
        words = [w for w in WORD.findall(text.lower()) if not w.isdigit()]
        stems = Counter(_plain(stem(w, language)) for w in words if len(w) >= 3)
        grams: Counter = Counter()
        for w in words:
            plain = _plain(w)
            if len(plain) < 3:
                continue
            padded = f"^{plain}$"
            for n in (3, 4):
                grams.update(padded[i:i + n] for i in range(len(padded) - n + 1))
        folded = fold(text)
        concepts = Counter({name: 1 for name, words in self.concepts
                            if words.found_in_folded(folded, max_words=10 ** 6)})
        return {"w": stems, "c": grams, "k": concepts}

    @staticmethod
    def _idf(docs: list[dict[str, Counter]]) -> dict[str, dict[str, float]]:
        total = max(1, len(docs))
        idf: dict[str, dict[str, float]] = {}
        for view in WEIGHTS:
            df = Counter(term for d in docs for term in d[view])
            idf[view] = {term: math.log(1 + total / n) for term, n in df.items()}
        return idf

    def _weigh(self, features: dict[str, Counter]) -> dict[str, dict[str, float]]:
        vectors = {}
        for view, counts in features.items():
            idf = self.idf[view]
            vec = {t: (1 + math.log(n)) * idf[t] for t, n in counts.items() if t in idf}
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            vectors[view] = {t: v / norm for t, v in vec.items()}
        return vectors

    def search(self, question: str, language: str, limit: int = 3) -> list[Hit]:
        """The best articles for a question, best first (one hit per article)."""
        if not self.vectors or not question.strip():
            return []
        features = self._features(question, language)
        corrected: Counter = Counter()
        for term, n in features["w"].items():
            corrected[self._correct(term, language)] += n
        if corrected != features["w"]:
            # The corrected words may name a concept the typo hid ("retrun" -> "return").
            fixed = fold(" ".join(corrected))
            features["k"].update({name: 1 for name, words in self.concepts
                                  if name not in features["k"] and words.found_in_folded(fixed, max_words=10 ** 6)})
        features["w"] = corrected
        q = self._weigh(features)
        dots: dict[str, dict[int, float]] = {view: {} for view in WEIGHTS}
        for view in WEIGHTS:
            for term, value in q[view].items():
                for doc, weight in self.postings[view].get(term, ()):
                    dots[view][doc] = dots[view].get(doc, 0.0) + value * weight
        # How much of what the question is about an article covers (an article covers many concepts,
        # a question few), blended with the cosine so the closer topic wins a tie.
        q_mass = sum(v * v for v in q["k"].values())
        coverage: dict[int, float] = {}
        for term, value in q["k"].items():
            for doc, _ in self.postings["k"].get(term, ()):
                coverage[doc] = coverage.get(doc, 0.0) + value * value / q_mass
        best: dict[str, Hit] = {}
        for doc in set().union(*(d.keys() for d in dots.values())):
            score = self._score({view: dots[view].get(doc, 0.0) for view in WEIGHTS}, coverage.get(doc, 0.0))
            article = self.kb.articles[doc]
            if score > 0 and (article.id not in best or score > best[article.id].score):
                best[article.id] = Hit(article.id, score, article.language)
        return sorted(best.values(), key=lambda h: -h.score)[:limit]

    @staticmethod
    def _score(cos: dict[str, float], coverage: float) -> float:
        lexical = (WEIGHTS["w"] * cos["w"] + WEIGHTS["c"] * cos["c"]) / (WEIGHTS["w"] + WEIGHTS["c"])
        conceptual = 0.6 * coverage + 0.4 * cos["k"]
        # Concepts alone (a question in a language the article lacks) may carry a match; with
        # words in common they add to it.
        return min(1.0, lexical + WEIGHTS["k"] * conceptual * (1 - lexical))
