"""The FAQ knowledge base: Markdown articles, one folder per language, and shared concepts.

Layout of the folder named by ``bot.knowledge_base``::

    en/delivery-time.md      # the article "delivery-time" in English
    lv/delivery-time.md      # the same article in Latvian (same file name = same article)
    concepts.toml            # optional: words that mean the same thing across languages

An article is Markdown with an optional front matter of ``key: value`` lines between ``---``
lines (``queue``: where such questions go, ``keywords``: other ways to ask, comma-separated);
its first ``# `` heading is the title.
"""
from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError

logger = logging.getLogger(__name__)
LANGUAGE_DIR = re.compile(r"[a-z]{2,3}")
ARTICLE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
MAX_ARTICLE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Article:
    id: str
    language: str
    title: str
    body: str  # Markdown, without the front matter and the title
    keywords: tuple[str, ...] = ()
    queue: str = ""

    def as_text(self) -> str:
        """The article as a chat message: plain text, readable on every channel."""
        return f"{self.title}\n\n{markdown_to_text(self.body)}".strip()


@dataclass(frozen=True)
class KnowledgeBase:
    articles: tuple[Article, ...]
    concepts: dict[str, tuple[str, ...]]

    def version(self, article_id: str, language: str) -> Article | None:
        for article in self.articles:
            if article.id == article_id and article.language == language:
                return article
        return None

    def languages_of(self, article_id: str) -> list[str]:
        return sorted({a.language for a in self.articles if a.id == article_id})


def parse_article(article_id: str, language: str, text: str) -> Article:
    meta: dict[str, str] = {}
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() == "---":
                for line in lines[1:end]:
                    key, sep, value = line.partition(":")
                    if sep:
                        meta[key.strip().lower()] = value.strip()
                lines = lines[end + 1:]
                break
    title = ""
    for i, line in enumerate(lines):
        if line.startswith("# "):
            title = line[2:].strip()
            lines = lines[:i] + lines[i + 1:]
            break
        if line.strip():
            break
    body = "\n".join(lines).strip()
    keywords = tuple(k.strip() for k in meta.get("keywords", "").split(",") if k.strip())
    return Article(article_id, language, title or article_id.replace("-", " "), body, keywords, meta.get("queue", ""))


def load_knowledge_base(folder: Path) -> KnowledgeBase:
    """Read every article; a missing folder is a config error, an unreadable article is skipped and logged."""
    if not folder.is_dir():
        raise ConfigError(f"bot.knowledge_base: {folder} is not a folder")
    articles = []
    for lang_dir in sorted(p for p in folder.iterdir() if p.is_dir() and LANGUAGE_DIR.fullmatch(p.name)):
        for path in sorted(lang_dir.glob("*.md")):
            if not ARTICLE_ID.fullmatch(path.stem):
                logger.warning("knowledge base: %s skipped (name it with a-z, 0-9, - and _)", path)
                continue
            try:
                if path.stat().st_size > MAX_ARTICLE_BYTES:
                    raise ValueError(f"larger than {MAX_ARTICLE_BYTES} bytes")
                articles.append(parse_article(path.stem, lang_dir.name, path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                logger.warning("knowledge base: %s skipped: %s", path, exc)
    return KnowledgeBase(tuple(articles), load_concepts(folder / "concepts.toml"))


def load_concepts(path: Path) -> dict[str, tuple[str, ...]]:
    if not path.exists():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"bot.knowledge_base: {path} cannot be read: {exc}") from None
    concepts = raw.get("concepts", {})
    if not isinstance(concepts, dict) or not all(isinstance(v, list) and all(isinstance(w, str) for w in v)
                                                 for v in concepts.values()):
        raise ConfigError(f"bot.knowledge_base: {path}: [concepts] maps names to lists of words")
    return {name: tuple(words) for name, words in concepts.items()}


_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")


def markdown_to_text(markdown: str) -> str:
    """Markdown -> plain chat text: links as "text (url)", bullets as "•", emphasis and headings dropped."""
    out = []
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            line = stripped.lstrip("#").strip()
        elif stripped.startswith(("- ", "* ", "+ ")):
            line = "• " + stripped[2:]
        line = _LINK.sub(r"\1 (\2)", line)
        line = _EMPHASIS.sub(r"\2", line)
        out.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
