"""The bot's stored state on one ticket, and what one step of the dialogue decided."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

NEW, ASK, FEEDBACK, FORM, DONE = "new", "ask", "feedback", "form", "done"
STAGES = (NEW, ASK, FEEDBACK, FORM, DONE)


@dataclass
class DialogueState:
    """Everything the bot remembers between two client messages (stored as JSON on bot_dialogues)."""

    stage: str = NEW
    language: str = ""
    detected: str = ""  # the language the client last wrote in, as far as the detector could tell
    detected_how: str = ""
    article: str = ""  # the FAQ article last offered
    score: float = 0.0
    question: str = ""
    queue: str = ""  # the queue the question seems to belong to
    queue_confidence: float = 0.0
    fields: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # a field's answer that failed validation twice
    pending_field: str = ""
    retries: int = 0
    handoff_reason: str = ""  # why the bot is handing off once the form is done
    offered: dict[str, str] = field(default_factory=dict)  # choice key -> label, as last offered
    answered: list[str] = field(default_factory=list)  # articles the client said helped
    not_helpful: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict | None) -> "DialogueState":
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict:
        # Flat fields of str, numbers, lists and dicts of str: copying the containers is what asdict's deep
        # walk did, at a fifth of the cost (it ran for every ticket of every pass).
        return {name: list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v
                for name, v in self.__dict__.items()}


@dataclass(frozen=True)
class Incoming:
    """One client message as the dialogue sees it."""

    message_id: int
    text: str
    payload: str = ""
    attachments: int = 0


@dataclass(frozen=True)
class Situation:
    """What the dialogue knows besides the message: time, channel and what is known about the client."""

    now: datetime
    channel: str
    hints: tuple[str, ...] = ()  # languages from the channel (locale) and the client's record
    known_email: bool = False


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unanswered:
    kind: str  # no_match, not_helpful, no_translation
    question: str
    language: str
    article: str = ""
    score: float = 0.0


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    handoff: str = ""  # the reason, when the bot lets go of the ticket
    resolved: bool = False  # the client said the answer helped
    unanswered: list[Unanswered] = field(default_factory=list)
    claimed_email: str = ""  # an address the client typed, kept as a claim on their identity
