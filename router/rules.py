"""Routing rules from the config: each is a name, a queue and conditions that must all hold.

Condition kinds: channel, language, keywords per language, regular expressions per language, and
business hours. Keywords match the folded text (no case, no diacritics, Cyrillic in Latin letters),
so "возврат", "vozvrat" and "VOZVRAT" are one keyword; a keyword ending in "*" matches as a word
prefix ("refund*" matches "refunded"), otherwise it must be a whole word or phrase.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router.hours import BusinessHours
from router.text import fold

ANY_LANGUAGE = "any"


@dataclass(frozen=True)
class Message:
    """What the rules look at, prepared once per decision."""

    text: str
    folded: str
    channel: str = ""
    language: str = ""
    now: datetime | None = None

    @classmethod
    def of(cls, text: str, *, channel: str = "", language: str = "", now: datetime | None = None) -> "Message":
        return cls(text, fold(text), channel or "", (language or "").lower(), now)


class Condition(Protocol):
    """One test a rule makes; a rule matches when all of its conditions do."""

    def matches(self, message: Message) -> bool: ...


def _for_language(table: Mapping[str, tuple], language: str) -> Iterable:
    # Unknown language: try every list, since a wrong guess would hide the keyword.
    if not language:
        return (item for items in table.values() for item in items)
    return (*table.get(language, ()), *table.get(ANY_LANGUAGE, ()))


@dataclass(frozen=True)
class ChannelRule:
    """The message came through one of these channel instances (a bot, a mailbox, the web chat)."""

    channels: frozenset[str]

    def matches(self, message: Message) -> bool:
        return message.channel in self.channels


@dataclass(frozen=True)
class LanguageRule:
    """The message's language is one of these."""

    languages: frozenset[str]

    def matches(self, message: Message) -> bool:
        return message.language in self.languages


def _keyword_source(keyword: str) -> str:
    prefix = keyword.endswith("*")
    return re.escape(fold(keyword.rstrip("*"))) + ("" if prefix else r"(?!\w)")


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern:
    """Keywords as one regex over folded text: whole words, or word prefixes when ending in "*"."""
    return re.compile(r"(?<!\w)(?:" + "|".join(_keyword_source(k) for k in keywords) + ")")


@dataclass(frozen=True)
class KeywordRule:
    """Any keyword listed for the message's language (or under "any") occurs in the text."""

    keywords: Mapping[str, tuple[re.Pattern, ...]]  # one combined pattern per language

    @classmethod
    def of(cls, keywords: Mapping[str, Iterable[str]]) -> "KeywordRule":
        return cls({lang: (keyword_pattern(words),) for lang, words in keywords.items() if words})

    def matches(self, message: Message) -> bool:
        return any(p.search(message.folded) for p in _for_language(self.keywords, message.language))


@dataclass(frozen=True)
class PatternRule:
    """Any regular expression listed for the message's language (or "any") matches the raw text."""

    patterns: Mapping[str, tuple[re.Pattern, ...]]

    @classmethod
    def of(cls, patterns: Mapping[str, Iterable[str]]) -> "PatternRule":
        return cls({lang: tuple(re.compile(p, re.IGNORECASE) for p in items) for lang, items in patterns.items()})

    def matches(self, message: Message) -> bool:
        return any(p.search(message.text) for p in _for_language(self.patterns, message.language))


@dataclass(frozen=True)
class BusinessHoursRule:
    """The message arrived inside (or outside) business hours; an unknown time never matches."""

    hours: BusinessHours
    inside: bool

    def matches(self, message: Message) -> bool:
        return message.now is not None and self.hours.is_open(message.now) == self.inside


@dataclass(frozen=True)
class Rule:
    """A named rule: when every condition holds, the message goes to `queue`."""

    name: str
    queue: str
    conditions: tuple[Condition, ...]

    def matches(self, message: Message) -> bool:
        return all(c.matches(message) for c in self.conditions)


def rule_from_config(spec: Mapping, hours: BusinessHours) -> Rule:
    """Build a rule from one `[[router.rules]]` table (already validated by the config)."""
    conditions: list[Condition] = []
    if spec.get("channels"):
        conditions.append(ChannelRule(frozenset(spec["channels"])))
    if spec.get("languages"):
        conditions.append(LanguageRule(frozenset(lang.lower() for lang in spec["languages"])))
    if spec.get("keywords"):
        conditions.append(KeywordRule.of(spec["keywords"]))
    if spec.get("patterns"):
        conditions.append(PatternRule.of(spec["patterns"]))
    if spec.get("business_hours"):
        conditions.append(BusinessHoursRule(hours, spec["business_hours"] == "inside"))
    if not conditions:
        raise ValueError(f"rule {spec.get('name')!r} has no condition and would take every message")
    return Rule(spec["name"], spec["queue"], tuple(conditions))
