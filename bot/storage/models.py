"""ORM models of the desk. Alembic migrations own the schema; keep both in step."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text,
    TypeDecorator, UniqueConstraint, false,
)
from sqlalchemy import text as sql_text  # "text" is also a column name below
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; store times in UTC")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


operator_queues = Table(
    "operator_queues",
    Base.metadata,
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    # 1 is the queue's first line; higher levels are backup and get tickets when the first line is full.
    Column("level", Integer, nullable=False, default=1, server_default="1"),
    # Mirrors kept by triggers (migration 0011) so the choice reads a queue's operators in its order:
    # the operator's tickets held (operator_loads summed) and last assignment (the epoch if never).
    Column("held", Integer, nullable=False, server_default="0"),
    Column("turn_at", UTCDateTime(), nullable=False),  # server default per engine: see migration 0011
    Index("ix_operator_queues_load_order", "queue_id", "level", "held", "turn_at", "operator_id"),
    Index("ix_operator_queues_turn_order", "queue_id", "level", "turn_at", "operator_id"),
)


class Counter(Base):
    """Named counters (ticket numbers) advanced with UPDATE ... RETURNING inside a transaction."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class Queue(Base):
    __tablename__ = "queues"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(48), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")


class Operator(Base):
    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(48), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(16), default="operator")
    languages: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Routing: presence set in the console, the console's last sign of life, capacity per channel.
    status: Mapped[str] = mapped_column(String(16), default="offline", server_default="offline")
    status_at: Mapped[datetime | None] = mapped_column(default=None)
    seen_at: Mapped[datetime | None] = mapped_column(default=None)
    capacity: Mapped[dict] = mapped_column(JSON, default=dict)  # channel -> tickets at once; empty: config default
    last_assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    console_language: Mapped[str] = mapped_column(String(16), default="", server_default="")  # empty: the browser's
    queues: Mapped[list[Queue]] = relationship(secondary=operator_queues, lazy="raise")


class OperatorLoad(Base):
    """Open tickets an operator holds on a channel; triggers on `tickets` keep it (migration 0008)."""

    __tablename__ = "operator_loads"
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Client(Base):
    __tablename__ = "clients"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")  # verified address only
    phone: Mapped[str] = mapped_column(String(32), default="")  # verified number only
    language: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)  # personal manager
    identities: Mapped[list["ChannelIdentity"]] = relationship(back_populates="client", lazy="raise")


class ChannelIdentity(Base):
    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    claimed_email: Mapped[str] = mapped_column(String(320), default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when the channel says we can no longer reach this identity (e.g. the user blocked the bot).
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    client: Mapped[Client] = relationship(back_populates="identities", lazy="raise")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue_status", "queue_id", "status"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
        Index("ix_tickets_client_channel", "client_id", "channel", "chat_id"),
        Index("ix_tickets_channel_chat", "channel", "chat_id"),  # a chat's history (0013)
        Index("ix_tickets_routed_at", "routed_at"),
        Index("ix_tickets_offer_expires_at", "offer_expires_at"),
        Index("ix_tickets_offered_to_id", "offered_to_id", "assignee_id", "offer_expires_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    channel: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(255))  # where replies go on that channel
    status: Mapped[str] = mapped_column(String(16), default="new")
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    language: Mapped[str] = mapped_column(String(8), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(String(200), default="")  # e.g. a deep-link payload or campaign tag
    previous_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), default=None)
    # Another client's ticket the first message named (by reply headers or number) but could not join.
    mentioned_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    # When self-service let go of the ticket (or never held it, with the bot off): the router's marker.
    handed_off_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    # Routing. routed_at: the router has placed it (a crash between hand-off and routing leaves it
    # NULL for the worker's next pass); queued_at: it entered its current queue or step; an offer
    # reserves it for one operator until it expires; version grows with every routing write, so
    # a decision made on a stale read never lands.
    routed_at: Mapped[datetime | None] = mapped_column(default=None)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    offered_to_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    offer_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    relaxed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    client: Mapped[Client] = relationship(lazy="raise")
    queue: Mapped[Queue] = relationship(lazy="raise")
    assignee: Mapped[Operator | None] = relationship(lazy="raise", foreign_keys=[assignee_id])


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_messages_ticket_id", "ticket_id", "id"),
        # "Does a row still name this file?" (erasure, retention, the store's sweep); most rows name none.
        Index("ix_messages_raw_key", "raw_key", sqlite_where=sql_text("raw_key != ''"),
              postgresql_where=sql_text("raw_key != ''")),
        Index("ix_messages_html_key", "html_key", sqlite_where=sql_text("html_key != ''"),
              postgresql_where=sql_text("html_key != ''")),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(4))
    author_kind: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    delivery_status: Mapped[str] = mapped_column(String(16))
    delivery_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(default=None)
    raw_key: Mapped[str] = mapped_column(String(128), default="")  # the original as received, in the attachment store
    html_key: Mapped[str] = mapped_column(String(128), default="")  # a sanitized HTML rendering, in the attachment store
    folded_text: Mapped[str] = mapped_column(Text, default="")  # quoted earlier messages and signature, shown folded
    automated: Mapped[bool] = mapped_column(Boolean, default=False)  # an auto-reply or bounce: never answered
    choices: Mapped[list] = mapped_column(JSON, default=list)  # quick replies offered with an outbound message
    attachments: Mapped[list["StoredAttachment"]] = relationship(lazy="raise", order_by="StoredAttachment.id")
    operator: Mapped[Operator | None] = relationship(lazy="raise")


class StoredAttachment(Base):
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(128), index=True)  # sha256 of the content


class Note(Base):
    """An internal note: operators only, never sent to the client."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    operator: Mapped[Operator | None] = relationship(lazy="raise")


class OutboxItem(Base):
    """One send to do through a channel; the delivery worker takes due rows."""

    __tablename__ = "outbox"
    # ix_outbox_ticket_unsent: a ticket's unsent rows, for the claim's order check (migration 0014).
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_ticket_unsent", "ticket_id", "status", "id"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # the message's, copied for the claim
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class ChannelState(Base):
    """Small durable state a channel keeps between runs (an IMAP cursor, a polling offset)."""

    __tablename__ = "channel_state"
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The read audit's once-an-hour check and the digest look events up by kind, operator and time.
    __table_args__ = (Index("ix_audit_events_kind_operator_at", "kind", "operator_id", "at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(48))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class OperatorSession(Base):
    """A console login; only a keyed hash of the cookie's token is stored."""

    __tablename__ = "operator_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


# --- feedback: surveys, follow-ups, complaints, client segments, digest deliveries ---


class Survey(Base):
    """The post-resolution survey of one ticket (at most one): a durable row the survey worker takes when due.

    Queue, operator and channel are copied when the survey is sent, so an answer is counted
    where the ticket was at the time, whatever happens to the ticket later.
    """

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_due", "status", "due_at"), Index("ix_surveys_client", "client_id", "sent_at"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # scheduled -> sending (leased) -> sent -> answered; or skipped, cancelled (reopened), failed
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(64))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queues.id"), default=None)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    language: Mapped[str] = mapped_column(String(8), default="")
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)  # keyed hash of the link's token
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    score: Mapped[int | None] = mapped_column(Integer, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_via: Mapped[str] = mapped_column(String(16), default="")  # chat or link
    comment_until: Mapped[datetime | None] = mapped_column(default=None)  # the next chat message is the comment
    skip_reason: Mapped[str] = mapped_column(String(48), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    """Something a supervisor of the queue should look at: a low score, complaint words in a comment."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_status_queue", "status", "queue_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="SET NULL"), default=None)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    reason: Mapped[str] = mapped_column(String(32))  # low_score, complaint_words
    detail: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    outcome: Mapped[str] = mapped_column(Text, default="")


class Complaint(Base):
    """One registered complaint: received -> investigating -> resolved -> closed, with an owner and a due date."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_due", "status", "due_at"), Index("ix_complaints_created", "created_at"))
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    channel: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="")
    category: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="received")
    source: Mapped[str] = mapped_column(String(16))  # router, operator, survey, bot
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    summary: Mapped[str] = mapped_column(Text, default="")  # what the client complains about
    resolution: Mapped[str] = mapped_column(Text, default="")  # sent to the client when resolved
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id", ondelete="SET NULL"), default=None)
    due_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    owner: Mapped[Operator | None] = relationship(lazy="raise")


class ClientSegment(Base):
    """A client's segment (loyal, core, difficult, dormant) as the rules computed it, or as an admin pinned it."""

    __tablename__ = "client_segments"
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True)
    segment: Mapped[str] = mapped_column(String(16))  # the one in force: pinned, else computed
    computed: Mapped[str] = mapped_column(String(16), default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SegmentChange(Base):
    """A recorded change of a client's segment or tags, and who or what made it."""

    __tablename__ = "segment_changes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    old_segment: Mapped[str] = mapped_column(String(16), default="")
    new_segment: Mapped[str] = mapped_column(String(16))
    old_tags: Mapped[list] = mapped_column(JSON, default=list)
    new_tags: Mapped[list] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16))  # rules, cli, api, import
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), default=None)
    reason: Mapped[str] = mapped_column(Text, default="")


class DigestDelivery(Base):
    """One scheduled digest email (recipient, period); the unique key makes it go out once."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("recipient", "every", "period_start"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    every: Mapped[str] = mapped_column(String(8))  # day, week
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


# --- self-service: the bot's dialogue per ticket, and the questions it could not answer ---


class BotDialogue(Base):
    """The bot's state on one ticket; ``last_message_id`` is the last client message it has answered.

    A client message with a higher id on a ticket the bot holds is work to do, so a crash between
    the inbox's commit and the bot's reply loses nothing: the next pass answers it.
    """

    __tablename__ = "bot_dialogues"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), default="new")  # new, ask, feedback, form, done
    language: Mapped[str] = mapped_column(String(8), default="")
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    last_message_id: Mapped[int] = mapped_column(BigInteger, default=0)
    handoff_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # the last message of the bot part
    handoff_reason: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UnansweredQuestion(Base):
    """A question the knowledge base did not answer (no match, not helpful, no translation), for managers."""

    __tablename__ = "unanswered_questions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="")
    question: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))  # no_match, not_helpful, no_translation
    article: Mapped[str] = mapped_column(String(200), default="")  # the best candidate, if any
    score: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # A manager marks the question covered, optionally naming the article that now answers it.
    covered_at: Mapped[datetime | None] = mapped_column(default=None)
    covered_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)
    covered_article: Mapped[str] = mapped_column(String(200), default="", server_default="")


# --- routing: decisions and corrections, offers, SLA, notifications ---


class RoutingDecision(Base):
    """Why a ticket went to its queue (rule, or classifier label and confidence), and any correction.

    A correction (a transfer before the first operator reply, or a "wrong queue" mark) makes the
    stored text a labelled example for `helpline router train --from-history`.
    """

    __tablename__ = "routing_decisions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    queue: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    rule: Mapped[str | None] = mapped_column(String(48), default=None)
    label: Mapped[str | None] = mapped_column(String(48), default=None)
    channel: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    corrected_queue: Mapped[str | None] = mapped_column(String(48), default=None)
    correction: Mapped[str] = mapped_column(String(16), default="")  # "", "transfer", "wrong_queue"
    corrected_at: Mapped[datetime | None] = mapped_column(default=None)
    corrected_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), default=None)


class OfferRefusal(Base):
    """An operator who rejected an offered ticket or let the offer expire: not asked again this step."""

    __tablename__ = "offer_refusals"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # rejected, expired
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketSla(Base):
    """The last computed SLA light of an open ticket, for lists; the clocks themselves are recomputed."""

    __tablename__ = "ticket_sla"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0 green, 1 yellow, 2 red when computed
    clock: Mapped[str] = mapped_column(String(24), default="")
    yellow_at: Mapped[datetime | None] = mapped_column(default=None)
    red_at: Mapped[datetime | None] = mapped_column(default=None)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the timeline left the clocks (router.sla.SlaState), kept by triggers (migration 0012); good
    # while `seen` equals `events`, which counts every change to the ticket's timeline.
    events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seen: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    seen_at: Mapped[datetime | None] = mapped_column(default=None)  # the state's latest event
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    awaiting_at: Mapped[datetime | None] = mapped_column(default=None)
    running_since: Mapped[datetime | None] = mapped_column(default=None)
    answered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    spent: Mapped[list | None] = mapped_column(JSON, default=None)  # closed resolution segments, ISO pairs


class SlaDeadline(Base):
    """A yellow or red step of a ticket's SLA clock, due at a time; the routing worker takes due rows."""

    __tablename__ = "sla_deadlines"
    __table_args__ = (
        UniqueConstraint("ticket_id", "key"),
        Index("ix_sla_deadlines_due", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))  # clock, cycle start and level: fires once
    clock: Mapped[str] = mapped_column(String(24))
    level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending, fired, skipped, void
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    fired_at: Mapped[datetime | None] = mapped_column(default=None)


class Notification(Base):
    """Something the console shows one operator (an SLA escalation for a queue's supervisors)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_operator", "operator_id", "read_at"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
