"""TOML -> frozen, validated settings; secrets may come from the environment.

A value written as ``"env:NAME"`` is read from the environment variable NAME, so secrets need
not live in the file. Every error names the key's dotted path and the reason.
"""
from __future__ import annotations

import os
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.email_config import EmailSettings
from bot.errors import ConfigError
from bot.feedback.config import FeedbackSettings
from bot.routing_settings import PrioritySettings
from bot.telegram_config import TelegramBots

DEMO_CONFIG = Path(__file__).with_name("demo.toml")
ENV_PREFIX = "env:"
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeskSettings(_Section):
    name: str = "helpline"
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file in data_dir
    default_queue: Name = "general"
    default_language: Language = "en"
    time_zone: str = "UTC"
    public_url: str = ""  # how clients reach the desk; empty: http://host:port
    # A client's message reopens a resolved ticket within this many days; later it opens a new one
    # that links the old.
    reopen_window_days: float = Field(7.0, ge=0)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'Europe/Riga')")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        """Caught here, a typo names the key; at start-up it would be a driver error (never echo the URL: it may hold a password)."""
        if not value:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL (use e.g. postgresql+asyncpg://user@host/db)") from None
        if url.get_backend_name() == "sqlite" and url.get_driver_name() != "aiosqlite":
            raise ValueError("SQLite is used through aiosqlite: write sqlite+aiosqlite:///path/to/helpline.db")
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"{url.get_backend_name()!r} is not supported: use PostgreSQL (postgresql+asyncpg://...) or SQLite")
        return value


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    secret_key: str = Field(min_length=32)
    session_minutes: int = Field(480, ge=5, le=60 * 24 * 30)
    secure_cookies: bool = False
    trusted_proxies: tuple[str, ...] = ()


class AttachmentSettings(_Section):
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    allowed_types: tuple[str, ...] = (
        "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf",
    )


class RetentionSettings(_Section):
    """How long client words and files outlive a ticket's resolution; 0 keeps them forever."""

    messages_days: int = Field(0, ge=0, le=36_500)
    attachments_days: int = Field(0, ge=0, le=36_500)
    every_hours: float = Field(6.0, gt=0, le=24 * 7)  # how often the desk applies them

    @property
    def enabled(self) -> bool:
        return bool(self.messages_days or self.attachments_days)


class WebchatSettings(_Section):
    enabled: bool = True
    max_message_chars: int = Field(4000, ge=1, le=100_000)
    messages_per_minute: int = Field(30, ge=1)
    connections_per_address: int = Field(20, ge=1)
    max_attachment_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    allowed_origins: tuple[str, ...] = ()  # empty: any site may embed the widget


class ChannelSettings(_Section):
    webchat: WebchatSettings = WebchatSettings()
    email: EmailSettings | None = None
    telegram: TelegramBots = {}


class QueueSettings(_Section):
    name: Name
    title: str = ""


class DemoOperator(_Section):
    username: Name
    display_name: str
    password: str = Field(min_length=8)
    role: Literal["operator", "supervisor", "manager", "admin"] = "operator"
    queues: tuple[Name, ...] = ()
    languages: tuple[Language, ...] = ("en",)
    capacity: dict[str, Annotated[int, Field(ge=0, le=1000)]] = {}  # channel -> tickets at once; empty: router.assignment.default_capacity
    levels: dict[Name, Annotated[int, Field(ge=1, le=9)]] = {}  # queue -> level (1: first line); unlisted queues: 1


class CannedResponse(_Section):
    title: str = Field(min_length=1)
    language: Language = "en"
    text: str = Field(min_length=1)


class OutboxSettings(_Section):
    max_attempts: int = Field(8, ge=1, le=100)
    first_retry_seconds: float = Field(2.0, gt=0)
    max_retry_seconds: float = Field(600.0, gt=0)
    lease_seconds: float = Field(60.0, gt=0)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessHoursSettings(_Section):
    """Weekly opening hours in desk.time_zone; an `end` not after `start` runs past midnight."""

    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    start: time = time(9)
    end: time = time(18)
    holidays: tuple[date, ...] = ()


class RoutingRuleSettings(_Section):
    """One `[[router.rules]]` table: every condition given must hold; the first matching rule wins."""

    name: Name
    queue: Name
    channels: tuple[str, ...] = ()
    languages: tuple[Language, ...] = ()
    keywords: dict[str, tuple[str, ...]] = {}
    patterns: dict[str, tuple[str, ...]] = {}
    business_hours: Literal["inside", "outside"] | None = None

    @model_validator(mode="after")
    def _usable(self) -> "RoutingRuleSettings":
        import re

        if not (self.channels or self.languages or self.keywords or self.patterns or self.business_hours):
            raise ValueError("a rule needs at least one condition (channels, languages, keywords, patterns, business_hours)")
        for kind, table in (("keywords", self.keywords), ("patterns", self.patterns)):
            for lang, items in table.items():
                if lang != "any" and not re.fullmatch(r"[a-z]{2,3}", lang):
                    raise ValueError(f"{kind}: {lang!r} is not a language code (use e.g. 'en', or 'any')")
                if kind == "keywords" and any(not k.strip("* ") for k in items):
                    raise ValueError(f"keywords.{lang}: empty keyword")
        for lang, items in self.patterns.items():
            for pattern in items:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"patterns.{lang}: {pattern!r} is not a valid regular expression ({exc})")
        return self


class QueueRoutingSettings(_Section):
    """`[router.queues.NAME]`: how one queue hands its tickets to operators (queue -> operator)."""

    strategy: Literal["least_busy", "round_robin", "sticky", "manual"] = "least_busy"
    least_busy_by: Literal["count", "share"] = "count"
    language_required: bool = True
    max_level: int | None = Field(None, ge=1, le=9)
    offer_timeout_seconds: float = Field(0.0, ge=0)
    offer_channels: tuple[str, ...] = ()
    step_timeout_seconds: float = Field(0.0, ge=0)
    on_step_timeout: Literal["relax", "fallback", "relax_then_fallback"] = "relax"
    fallback_queue: Name | None = None
    overflow_queue: Name | None = None
    sticky_window_hours: float = Field(72.0, ge=0)


SlaAction = Literal["notify", "raise_priority", "overflow"]
Minutes = Annotated[float, Field(gt=0)]


class SlaTargetSettings(_Section):
    """One `[[router.sla.targets]]` row; for each clock the most specific row that sets it wins."""

    queue: Annotated[str, Field(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,47})$")] = "*"
    priority: Literal["*", "low", "normal", "high", "urgent"] = "*"
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None


class SlaSettings(_Section):
    """SLA targets and what happens when a ticket turns yellow or red."""

    business_hours: bool = True  # count in router.business_hours; false: round the clock
    yellow_share: float = Field(0.75, gt=0.0, lt=1.0)
    on_yellow: tuple[SlaAction, ...] = ("notify",)
    on_red: tuple[SlaAction, ...] = ("notify", "raise_priority")
    targets: tuple[SlaTargetSettings, ...] = ()


class AssignmentSettings(_Section):
    """Operators' presence and default capacity; the routing worker's pace."""

    presence_grace_seconds: float = Field(120.0, ge=0)
    default_capacity: dict[str, Annotated[int, Field(ge=0, le=1000)]] = {"*": 5}
    poll_seconds: float = Field(5.0, gt=0, le=300)


class RouterSettings(_Section):
    """Text -> queue: rules first, then the classifier; unsure decisions go to the triage queue."""

    classify: bool = True  # false: no model is loaded; rules decide, everything else goes to triage
    model_path: Path | None = None  # None: data_dir/router/model.joblib if trained, else the shipped model
    confidence_threshold: float = Field(0.25, ge=0.0, le=1.0)
    triage_queue: Name | None = None  # None: desk.default_queue
    business_hours: BusinessHoursSettings = BusinessHoursSettings()
    rules: tuple[RoutingRuleSettings, ...] = ()
    assignment: AssignmentSettings = AssignmentSettings()
    queues: dict[Name, QueueRoutingSettings] = {}
    sla: SlaSettings = SlaSettings()
    priority: PrioritySettings = PrioritySettings()  # by the client's segment or tags (bot/routing_settings.py)


FormField = Literal["order_number", "email"]


class FormSettings(_Section):
    """One `[[bot.forms]]` table: fields asked before hand-off when the queue and channel match."""

    queues: tuple[Name, ...] = ()  # empty: every queue
    channels: tuple[str, ...] = ()  # empty: every channel
    fields: tuple[FormField, ...] = Field(min_length=1)


class BotSettings(_Section):
    """Self-service: greeting, language, FAQ answers, forms and hand-off (bot/dialogue)."""

    enabled: bool = False
    languages: tuple[Language, ...] = ()  # languages the bot replies in; empty: every catalog
    detect_languages: tuple[Language, ...] = ("en", "ru", "uk", "hu", "lv", "lt", "et", "de", "pl")
    welcome: dict[str, str] = {}
    knowledge_base: Path | None = None
    faq_threshold: float = Field(0.3, ge=0.0, le=1.0)
    order_number_pattern: str = r"\b[A-Z]{2,3}-?\d{6}\b"
    order_number_example: str = "NW-123456"
    forms: tuple[FormSettings, ...] = ()
    handoff_words: dict[str, tuple[str, ...]] = {}
    response_minutes: int = Field(0, ge=0, le=7 * 24 * 60)
    form_timeout_minutes: int = Field(15, ge=0, le=7 * 24 * 60)
    guess_queue: bool = True

    @field_validator("order_number_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression ({exc})")
        return value

    @field_validator("welcome", "handoff_words")
    @classmethod
    def _language_keys(cls, value: dict) -> dict:
        import re

        for key in value:
            if not re.fullmatch(r"[a-z]{2,3}", key):
                raise ValueError(f"{key!r} is not a language code (use e.g. 'en')")
        return value


class Settings(_Section):
    desk: DeskSettings = DeskSettings()
    web: WebSettings
    attachments: AttachmentSettings = AttachmentSettings()
    retention: RetentionSettings = RetentionSettings()
    channels: ChannelSettings = ChannelSettings()
    queues: tuple[QueueSettings, ...] = (QueueSettings(name="general", title="General"),)
    canned_responses: tuple[CannedResponse, ...] = ()
    outbox: OutboxSettings = OutboxSettings()
    demo_operators: tuple[DemoOperator, ...] = ()
    router: RouterSettings = RouterSettings()
    bot: BotSettings = BotSettings()
    feedback: FeedbackSettings = FeedbackSettings()

    @model_validator(mode="after")
    def _queues_known(self) -> "Settings":
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise ValueError("queues: each queue name may appear once")
        if self.desk.default_queue not in names:
            raise ValueError(f"desk.default_queue: {self.desk.default_queue!r} is not one of the queues {names}")
        for path, queue in self.channels.email.queues() if self.channels.email else ():
            if queue not in names:
                raise ValueError(f"{path}: {queue!r} is not one of the queues {names}")
        for i, op in enumerate(self.demo_operators):
            unknown = set(op.queues) - set(names)
            if unknown:
                raise ValueError(f"demo_operators.{i}.queues: unknown queue(s) {sorted(unknown)}")
        return self

    @model_validator(mode="after")
    def _router_queues_known(self) -> "Settings":
        names = [q.name for q in self.queues]
        if self.router.triage_queue is not None and self.router.triage_queue not in names:
            raise ValueError(f"router.triage_queue: {self.router.triage_queue!r} is not one of the queues {names}")
        for i, rule in enumerate(self.router.rules):
            if rule.queue not in names:
                raise ValueError(f"router.rules.{i}.queue: {rule.queue!r} is not one of the queues {names}")
        for i, form in enumerate(self.bot.forms):
            unknown = set(form.queues) - set(names)
            if unknown:
                raise ValueError(f"bot.forms.{i}.queues: unknown queue(s) {sorted(unknown)}")
        complaints = self.feedback.complaints.queue
        if complaints and complaints not in names:
            raise ValueError(f"feedback.complaints.queue: {complaints!r} is not one of the queues {names}")
        rule_names = [r.name for r in self.router.rules]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError("router.rules: each rule name may appear once")
        for name, policy in self.router.queues.items():
            if name not in names:
                raise ValueError(f"router.queues.{name}: {name!r} is not one of the queues {names}")
            for key in ("fallback_queue", "overflow_queue"):
                target = getattr(policy, key)
                if target is not None and (target not in names or target == name):
                    raise ValueError(f"router.queues.{name}.{key}: {target!r} is not another of the queues {names}")
            if policy.on_step_timeout != "relax" and policy.step_timeout_seconds and not policy.fallback_queue:
                raise ValueError(f"router.queues.{name}.fallback_queue: on_step_timeout = "
                                 f"{policy.on_step_timeout!r} needs a fallback queue")
        for i, target in enumerate(self.router.sla.targets):
            if target.queue != "*" and target.queue not in names:
                raise ValueError(f"router.sla.targets.{i}.queue: {target.queue!r} is not one of the queues {names}")
        for i, op in enumerate(self.demo_operators):
            stray = set(op.levels) - set(op.queues)
            if stray:
                raise ValueError(f"demo_operators.{i}.levels: not among the operator's queues: {sorted(stray)}")
        return self

    @property
    def database_url(self) -> str:
        if self.desk.database_url:
            return self.desk.database_url
        return f"sqlite+aiosqlite:///{(self.desk.data_dir / 'helpline.db').as_posix()}"

    @property
    def attachments_dir(self) -> Path:
        return self.desk.data_dir / "attachments"

    def public_url(self, host: str, port: int) -> str:
        return self.desk.public_url.rstrip("/") or f"http://{host}:{port}"


def _resolve_env(value: object, path: str) -> object:
    """Replace ``"env:NAME"`` strings by the environment variable's value, recursively."""
    if isinstance(value, dict):
        return {k: _resolve_env(v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        if name not in os.environ:
            raise ConfigError(f"{path}: environment variable {name} is not set (export it, or write the value in the file)")
        return os.environ[name]
    return value


def _key(part: object) -> str:
    """One step of a key's path; an odd key (empty, spaces, control characters) is quoted so it stays visible."""
    text = str(part)
    return text if text and text.isprintable() and " " not in text and "." not in text else repr(text)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(_key(p) for p in item["loc"])
        reason = item["msg"]
        if item["type"] == "extra_forbidden":
            reason = "unknown key (check the spelling against config.example.toml)"
        elif item["type"] == "missing":
            reason = "required key is missing"
        elif reason.startswith("Value error, "):
            reason = reason[len("Value error, "):]
        # Whole-document checks name their key in the reason ("desk.default_queue: ...").
        lines.append(f"  {path}: {reason}" if path else f"  {reason}")
    return "\n".join(lines)


def parse_settings(raw: dict, source: str = "config") -> Settings:
    """Validate a parsed TOML document; raise ConfigError listing every bad key."""
    raw = dict(raw)
    # The override comes first, so it also wins over an "env:" reference to an unset variable;
    # a `web` that is not a table is left for validation to report.
    if os.environ.get("HELPLINE_SECRET_KEY") and isinstance(raw.get("web", {}), dict):
        raw["web"] = {**raw.get("web", {}), "secret_key": os.environ["HELPLINE_SECRET_KEY"]}
    raw = dict(_resolve_env(raw, ""))
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source} is not valid:\n{_describe(exc)}") from None


def load_settings(path: Path | None = None) -> Settings:
    """Read a TOML config file (the demo configuration when no path is given)."""
    path = path or DEMO_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (copy config.example.toml and edit it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    settings = parse_settings(raw, str(path))
    base = path.parent
    kb = settings.bot.knowledge_base
    if kb is not None and not kb.is_absolute():
        settings = settings.model_copy(update={"bot": settings.bot.model_copy(update={"knowledge_base": base / kb})})
    if path == DEMO_CONFIG:
        return settings
    if not settings.desk.data_dir.is_absolute():
        settings = settings.model_copy(update={"desk": settings.desk.model_copy(update={"data_dir": base / settings.desk.data_dir})})
    return settings
