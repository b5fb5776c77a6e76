"""The `[feedback]` section of the config: surveys, complaints, segments and digests (validated, frozen).

Kept apart from bot.config so the feedback module owns its settings; bot.config only mounts them.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.feedback.lexicon import CATEGORIES, CATEGORY_KEYWORDS, COMPLAINT_WORDS, DEFAULT_MASKS, THEMES

Keywords = dict[str, tuple[str, ...]]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_keywords(table: Keywords, where: str) -> None:
    for lang, words in table.items():
        if lang != "any" and not re.fullmatch(r"[a-z]{2,3}", lang):
            raise ValueError(f"{where}: {lang!r} is not a language code (use e.g. 'en', or 'any')")
        if any(not w.strip("* ") for w in words):
            raise ValueError(f"{where}.{lang}: empty keyword")


class SurveySettings(_Section):
    enabled: bool = True
    delay_minutes: float = Field(30.0, ge=0)
    channel_delay_minutes: dict[str, float] = {}
    link_channels: tuple[str, ...] = ("email*",)
    link_days: float = Field(7.0, gt=0, le=90)
    repeat_window_days: float = Field(30.0, ge=0)
    comment_minutes: float = Field(30.0, ge=0)
    low_score: int = Field(2, ge=1, le=4)
    skip_audit_kinds: tuple[str, ...] = ("marked_spam", "auto_reply")
    complaint_words: Keywords = COMPLAINT_WORDS

    @field_validator("complaint_words")
    @classmethod
    def _words(cls, value: Keywords) -> Keywords:
        _check_keywords(value, "complaint_words")
        return value

    @field_validator("channel_delay_minutes")
    @classmethod
    def _delays(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in value.values()):
            raise ValueError("delays are minutes from 0")
        return value


class ComplaintSettings(_Section):
    queue: str = ""
    categories: tuple[Category, ...] = CATEGORIES
    category_keywords: dict[str, Keywords] = CATEGORY_KEYWORDS
    default_severity: Severity = "medium"
    due_days: dict[Severity, float] = {"low": 10, "medium": 5, "high": 2, "critical": 1}

    @model_validator(mode="after")
    def _consistent(self) -> "ComplaintSettings":
        if not self.categories:
            raise ValueError("categories: name at least one category")
        unknown = set(self.category_keywords) - set(self.categories)
        if unknown:
            raise ValueError(f"category_keywords: {sorted(unknown)} not in categories")
        for name, table in self.category_keywords.items():
            _check_keywords(table, f"category_keywords.{name}")
        missing = set(SEVERITIES) - set(self.due_days)
        if missing:
            raise ValueError(f"due_days: give days for {sorted(missing)}")
        if any(v <= 0 for v in self.due_days.values()):
            raise ValueError("due_days: days must be more than 0")
        return self


class SegmentSettings(_Section):
    window_days: int = Field(365, ge=1)
    dormant_days: int = Field(180, ge=1)
    difficult_complaints: int = Field(2, ge=1)
    difficult_low_scores: int = Field(2, ge=1)
    loyal_min_tickets: int = Field(3, ge=1)
    loyal_min_score: float = Field(4.5, ge=1, le=5)
    loyal_min_answers: int = Field(1, ge=1)
    recompute_hours: float = Field(24.0, gt=0)


class ThemeSettings(_Section):
    name: str = Field(min_length=1, max_length=80)
    keywords: Keywords

    @field_validator("keywords")
    @classmethod
    def _words(cls, value: Keywords) -> Keywords:
        _check_keywords(value, "keywords")
        if not any(value.values()):
            raise ValueError("a theme needs at least one keyword")
        return value


class DigestRecipient(_Section):
    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
    every: Literal["day", "week"] = "week"
    name: str = ""
    operator: str = ""  # their console username: the digest is in their console language


class DigestEmailSettings(_Section):
    enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    username: str = ""
    password: str = ""
    sender: str = Field("helpline@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    send_hour: int = Field(7, ge=0, le=23)
    recipients: tuple[DigestRecipient, ...] = ()


class DigestSettings(_Section):
    first_response_minutes: float = Field(60.0, gt=0)
    sla_yellow: float = Field(0.10, ge=0, le=1)
    sla_red: float = Field(0.25, ge=0, le=1)
    masks: dict[str, str] = DEFAULT_MASKS
    themes: tuple[ThemeSettings, ...] = tuple(ThemeSettings(**t) for t in THEMES)
    quotes_per_theme: int = Field(3, ge=0, le=10)
    email: DigestEmailSettings = DigestEmailSettings()

    @field_validator("masks")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,23}", name):
                raise ValueError(f"{name!r}: mask names are short lowercase words (they show as [name])")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{name}: {pattern!r} is not a valid regular expression ({exc})")
        return value

    @model_validator(mode="after")
    def _thresholds(self) -> "DigestSettings":
        if self.sla_red < self.sla_yellow:
            raise ValueError("sla_red must not be below sla_yellow")
        return self


class FeedbackSettings(_Section):
    survey: SurveySettings = SurveySettings()
    complaints: ComplaintSettings = ComplaintSettings()
    segments: SegmentSettings = SegmentSettings()
    digest: DigestSettings = DigestSettings()
