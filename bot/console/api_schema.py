"""The REST API's wire format: requests checked against the OpenAPI document, responses shaped for it.

Only the small part of JSON Schema the document uses is understood (objects of scalars, string
length and pattern, integer range, enum), which keeps every error message specific: it names the
field and says what to send instead.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from aiohttp import web

from bot.console.openapi import resolve
from bot.errors import HelplineError
from bot.storage.models import Message, Note
from bot.storage.queries import TicketRow

MAX_BODY = 256 * 1024  # a longest reply is 20,000 characters; escaped, that is under 256 KiB
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")
_JSON_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               list: "an array", dict: "an object", type(None): "null"}


class ApiError(HelplineError):
    """A request the API refuses, with its HTTP status, error code and (when known) the field at fault."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.field, self.headers = status, code, field, headers or {}


def _check_string(value: str, schema: dict, field: str) -> str:
    # PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded: refuse both here
    # rather than fail in the database.
    if "\x00" in value:
        raise ApiError(422, "invalid_field", f"{field} contains a NUL character", field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(422, "invalid_field", f"{field} is not valid Unicode (a lone surrogate)", field) from None
    if "enum" in schema and value not in schema["enum"]:
        raise ApiError(422, "invalid_field", f"{field} must be one of: {', '.join(schema['enum'])}", field)
    if len(value) < schema.get("minLength", 0):
        raise ApiError(422, "invalid_field", f"{field} must not be empty", field)
    if len(value) > schema.get("maxLength", len(value)):
        raise ApiError(422, "invalid_field", f"{field} is {len(value)} characters; the limit is {schema['maxLength']}", field)
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise ApiError(422, "invalid_field", f"{field} has the wrong form (or is only white space)", field)
    return value


def _check_integer(value: int, schema: dict, field: str) -> int:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ApiError(422, "invalid_field", f"{field} must be between {low} and {high}", field)
    return value


def parse_query(request: web.Request, operation: dict) -> dict:
    """The operation's query parameters, typed and defaulted; unknown or repeated ones are refused."""
    specs = {p["name"]: p["schema"] for p in operation.get("parameters", ()) if p["in"] == "query"}
    values = {name: spec["default"] for name, spec in specs.items() if "default" in spec}
    for name in request.query:
        if name not in specs:
            known = ", ".join(specs) or "none"
            raise ApiError(422, "unknown_parameter", f"unknown query parameter {name!r} (known: {known})", name)
        given = request.query.getall(name)
        if len(given) > 1:
            raise ApiError(422, "invalid_field", f"{name} is given {len(given)} times; give it once", name)
        raw, spec = given[0], specs[name]
        if spec["type"] == "integer":
            if not _INTEGER.match(raw):
                raise ApiError(422, "invalid_field", f"{name} must be a whole number", name)
            values[name] = _check_integer(int(raw), spec, name)
        else:
            values[name] = _check_string(raw, spec, name)
    return values


async def parse_body(request: web.Request, operation: dict) -> dict:
    """The JSON request body checked against the operation's schema; an optional body may be absent."""
    spec = operation["requestBody"]
    schema = resolve(spec["content"]["application/json"]["schema"])
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    if not raw.strip() and not spec["required"]:
        return {}
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError too
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", f"the body must be a JSON object, not {_JSON_NAMES.get(type(body), 'that')}")
    properties = schema["properties"]
    for name in body:
        if name not in properties:
            known = ", ".join(properties) or "none"
            raise ApiError(422, "unknown_field", f"unknown field {name!r} (known: {known})", name)
    for name in schema["required"]:
        if name not in body:
            raise ApiError(422, "missing_field", f"{name} is required", name)
    for name, value in body.items():
        if not isinstance(value, str):  # every field the document defines is a string
            raise ApiError(422, "invalid_field", f"{name} must be a string, not {_JSON_NAMES.get(type(value), 'that')}", name)
        _check_string(value, properties[name], name)
    return body


def error_body(code: str, message: str, field: str | None = None) -> dict:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def _operator(operator) -> dict | None:
    return {"username": operator.username, "display_name": operator.display_name} if operator else None


def ticket_json(row: TicketRow) -> dict:
    assignee = ({"username": row.assignee_username, "display_name": row.assignee}
                if row.assignee_id is not None else None)
    return {"number": row.number, "subject": row.subject, "status": row.status, "priority": row.priority,
            "language": row.language, "channel": row.channel, "queue": row.queue, "assignee": assignee,
            "client": {"id": row.client_id, "name": row.client_name},
            "created_at": utc(row.created_at), "last_message_at": utc(row.last_message_at)}


def message_json(message: Message) -> dict:
    return {"id": message.id, "direction": message.direction,
            "author": {"kind": message.author_kind, "operator": _operator(message.operator)},
            "text": message.text, "created_at": utc(message.created_at),
            "delivery": {"status": message.delivery_status, "error": message.delivery_error or ""},
            "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                            for a in message.attachments]}


def note_json(note: Note) -> dict:
    return {"id": note.id, "text": note.text, "author": _operator(note.operator), "created_at": utc(note.created_at)}
