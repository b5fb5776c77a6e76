"""Operators, their console sessions and API tokens."""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from bot.access import Viewer
from bot.actions.context import Desk, unit_of_work
from bot.domain import Role
from bot.errors import InvalidInput, NotFound
from bot.storage.models import ApiToken, AuditEvent, Operator, OperatorSession, Queue, utcnow

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so timing does not reveal which usernames exist.
    Made on first use: an argon2 hash costs about 0.4 s of CPU, which every process importing this paid."""
    return _hasher.hash("not-a-real-password")


MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # the login form reads no more; argon2 would hash megabytes slowly


def token_hash(desk: Desk, token: str) -> str:
    """Keyed hash of a bearer or session token: a leaked table does not yield usable tokens."""
    return hmac.new(desk.settings.web.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def viewer_of(operator: Operator) -> Viewer:
    return Viewer(id=operator.id, username=operator.username, display_name=operator.display_name,
                  role=Role(operator.role), queue_ids=frozenset(q.id for q in operator.queues))


async def create_operator(desk: Desk, username: str, display_name: str, password: str, role: str,
                          queues: list[str], languages: list[str]) -> int:
    """Add an operator; fails clearly on a taken username, unknown queue or short password."""
    _check_password(password)
    try:
        Role(role)
    except ValueError:
        raise InvalidInput("unknown role {role!r}; use one of {choices}", role=role, choices=", ".join(r.value for r in Role)) from None
    async with unit_of_work(desk) as unit:
        s = unit.session
        if (await s.execute(select(Operator.id).where(Operator.username == username))).first():
            raise InvalidInput("an operator named {username!r} exists already", username=username)
        found = list((await s.execute(select(Queue).where(Queue.name.in_(queues)))).scalars())
        missing = set(queues) - {q.name for q in found}
        if missing:
            raise InvalidInput("unknown queue(s): {queues}", queues=", ".join(sorted(missing)))
        operator = Operator(username=username, display_name=display_name or username,
                            password_hash=_hasher.hash(password), role=role, languages=list(languages), queues=found)
        s.add(operator)
        await s.flush()
        s.add(AuditEvent(kind="operator_created", operator_id=operator.id, data={"role": role, "queues": queues}))
        return operator.id


async def set_operator_active(desk: Desk, username: str, active: bool) -> None:
    """Disable (or enable) an operator; disabling ends their sessions and revokes their tokens."""
    async with unit_of_work(desk) as unit:
        s = unit.session
        operator = (await s.execute(select(Operator).where(Operator.username == username))).scalar_one_or_none()
        if operator is None:
            raise NotFound(f"there is no operator {username!r}")
        operator.active = active
        revoked = await _revoke_access(s, operator.id) if not active else {}
        s.add(AuditEvent(kind="operator_enabled" if active else "operator_disabled", operator_id=operator.id, data=revoked))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("the password must have at least {limit} characters", limit=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("the password must have at most {limit} characters", limit=MAX_PASSWORD)


async def _revoke_access(s, operator_id: int, keep_session: str | None = None) -> dict[str, int]:
    """End the operator's console sessions (but the one kept) and revoke all their API tokens."""
    ended = delete(OperatorSession).where(OperatorSession.operator_id == operator_id)
    if keep_session is not None:
        ended = ended.where(OperatorSession.token_hash != keep_session)
    sessions = (await s.execute(ended)).rowcount
    tokens = (await s.execute(update(ApiToken).where(ApiToken.operator_id == operator_id, ApiToken.revoked.is_(False))
                              .values(revoked=True))).rowcount
    return {"sessions_ended": sessions, "tokens_revoked": tokens}


async def change_password(desk: Desk, username: str, new_password: str, *, current_password: str | None = None,
                          keep_session: str | None = None, by: str = "") -> dict[str, int]:
    """Set a new password; every other session and every API token of the operator stop working.

    A stolen cookie or token must not outlive the password its owner changed because of it, so
    only the session that made the change (``keep_session``, a cookie token) survives. With
    ``current_password`` the old password is checked first (the console); the CLI is trusted.
    """
    _check_password(new_password)
    async with unit_of_work(desk) as unit:
        s = unit.session
        operator = await _load(s, username=username)
        if operator is None:
            raise NotFound(f"there is no operator {username!r}: see `helpline operators list`")
        if current_password is not None:
            try:
                _hasher.verify(operator.password_hash, current_password)
            except (VerificationError, InvalidHashError):
                raise InvalidInput("the current password is wrong") from None
        operator.password_hash = _hasher.hash(new_password)
        kept = token_hash(desk, keep_session) if keep_session else None
        revoked = await _revoke_access(s, operator.id, kept)
        s.add(AuditEvent(kind="password_changed", operator_id=operator.id, data={"by": by, **revoked}))
        return revoked


async def _load(s, **where) -> Operator | None:
    query = select(Operator).options(selectinload(Operator.queues))
    for key, value in where.items():
        query = query.where(getattr(Operator, key) == value)
    return (await s.execute(query)).scalar_one_or_none()


async def log_in(desk: Desk, username: str, password: str) -> tuple[str, Viewer] | None:
    """Check a password; on success open a session and return (cookie token, viewer)."""
    async with unit_of_work(desk) as unit:
        s = unit.session
        operator = await _load(s, username=username)
        try:
            _hasher.verify(operator.password_hash if operator else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if operator is None or not operator.active:
            return None
        if _hasher.check_needs_rehash(operator.password_hash):
            operator.password_hash = _hasher.hash(password)
        token = secrets.token_urlsafe(32)
        s.add(OperatorSession(token_hash=token_hash(desk, token), operator_id=operator.id,
                              csrf_token=secrets.token_urlsafe(32),
                              expires_at=utcnow() + timedelta(minutes=desk.settings.web.session_minutes)))
        s.add(AuditEvent(kind="logged_in", operator_id=operator.id))
        return token, viewer_of(operator)


async def session_viewer(desk: Desk, token: str) -> tuple[Viewer, str] | None:
    """The viewer and CSRF token of a live session, or None when it is unknown or expired."""
    found = await session_visit(desk, token)
    return found[:2] if found else None


async def session_visit(desk: Desk, token: str) -> tuple[Viewer, str, str] | None:
    """`session_viewer` and the operator's console language ("" if never chosen), which every console page
    needs: the session and its operator in one statement (their queues by selectinload)."""
    async with desk.sessions() as s:
        row = (await s.execute(
            select(Operator, OperatorSession.csrf_token, OperatorSession.expires_at).options(selectinload(Operator.queues))
            .join(OperatorSession, OperatorSession.operator_id == Operator.id)
            .where(OperatorSession.token_hash == token_hash(desk, token)))).first()
        if row is None or row.expires_at <= utcnow() or not row[0].active:
            return None
        return viewer_of(row[0]), row.csrf_token, row[0].console_language or ""


async def log_out(desk: Desk, token: str) -> None:
    async with unit_of_work(desk) as unit:
        await unit.session.execute(delete(OperatorSession).where(OperatorSession.token_hash == token_hash(desk, token)))


async def create_api_token(desk: Desk, username: str, name: str = "") -> str:
    """A new bearer token for an operator; only its hash is kept, so print it once."""
    async with unit_of_work(desk) as unit:
        operator = await _load(unit.session, username=username)
        if operator is None or not operator.active:
            raise NotFound(f"there is no active operator {username!r}")
        token = "hl_" + secrets.token_urlsafe(32)
        unit.session.add(ApiToken(token_hash=token_hash(desk, token), operator_id=operator.id, name=name))
        unit.session.add(AuditEvent(kind="api_token_created", operator_id=operator.id, data={"name": name}))
        return token


async def token_viewer(desk: Desk, token: str) -> Viewer | None:
    async with desk.sessions() as s:
        row = (await s.execute(select(ApiToken).where(ApiToken.token_hash == token_hash(desk, token)))).scalar_one_or_none()
        if row is None or row.revoked:
            return None
        operator = await _load(s, id=row.operator_id)
        return viewer_of(operator) if operator and operator.active else None
