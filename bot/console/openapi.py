"""The REST API's OpenAPI 3.1 document, as data: served at /api/openapi.json and read by the API.

The API validates query parameters and request bodies against this very document (see
bot.console.api_schema), so what it accepts cannot drift from what is documented; the tests
check the other direction (routes and response bodies against the document).
"""
from __future__ import annotations

from bot.actions.tickets import MAX_REPLY
from bot.domain import AuthorKind, DeliveryStatus, Direction, Priority, TicketStatus

# ISO 8601 in UTC with a "Z", e.g. 2026-11-22T09:30:00.123456Z (pattern, so validators check it).
UTC_TIME = {"type": "string", "format": "date-time",
            "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$"}
NAME = {"type": "string", "minLength": 1, "maxLength": 48}
TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_REPLY, "pattern": r"\S",
        "description": f"Plain text (never HTML), 1 to {MAX_REPLY} characters, not only spaces; "
                       "no NUL characters. Leading and trailing white space is dropped."}
TICKET_STATUSES = [s.value for s in TicketStatus]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict, required: list[str] | None = None, description: str = "") -> dict:
    schema = {"type": "object", "additionalProperties": False, "properties": properties,
              "required": list(properties) if required is None else required}
    if description:
        schema["description"] = description
    return schema


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict:
    reasons = {
        "400": "Malformed request: invalid JSON, or a body that is not a JSON object.",
        "401": "No bearer token, or an unknown, revoked or disabled operator's token.",
        "404": "No such ticket, or one the caller may not see (the two are not told apart).",
        "413": "The request body is too large.",
        "415": "The request body is not `application/json`.",
        "422": "A field or query parameter is missing, unknown, of the wrong type or out of range; "
               "`error.field` names it. Also a request the desk refuses (a closed ticket, an unknown queue).",
    }
    return {code: _json(reasons[code], _ref("Error")) for code in codes}


_NUMBER = {"name": "number", "in": "path", "required": True, "description": "The ticket's number, as operators see it.",
           "schema": {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999}}


def _limit(default: int, maximum: int) -> dict:
    return {"name": "limit", "in": "query", "description": "Page size.",
            "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}}


def _body(schema_name: str, description: str, required: bool = True) -> dict:
    return {"required": required, "description": description,
            "content": {"application/json": {"schema": _ref(schema_name)}}}


SCHEMAS = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. `invalid_field`."},
        "message": {"type": "string", "description": "What went wrong and how to fix it, for humans, always in English "
                    "(the console shows the same errors in each operator's language); programs branch on `code`."},
        "field": {"type": "string", "description": "The body field or query parameter at fault."},
    }, required=["code", "message"])}),
    "OperatorRef": _object({"username": {"type": "string"}, "display_name": {"type": "string"}}),
    "Ticket": _object({
        "number": {"type": "integer"},
        "subject": {"type": "string"},
        "status": {"type": "string", "enum": TICKET_STATUSES},
        "priority": {"type": "string", "enum": [p.value for p in Priority]},
        "language": {"type": "string", "description": "ISO 639 code, or empty when unknown."},
        "channel": {"type": "string", "description": "The channel the client wrote from; replies go there."},
        "queue": {"type": "string"},
        "assignee": _nullable(_ref("OperatorRef")),
        "client": _object({"id": {"type": "integer"}, "name": {"type": "string"}}),
        "created_at": UTC_TIME,
        "last_message_at": UTC_TIME,
    }),
    "TicketPage": _object({
        "tickets": {"type": "array", "items": _ref("Ticket")},
        "next_cursor": _nullable({"type": "string"}) | {
            "description": "Pass as `cursor` for the next page; null on the last page."},
    }),
    "Attachment": _object({
        "id": {"type": "integer"}, "filename": {"type": "string"},
        "content_type": {"type": "string"}, "size": {"type": "integer", "minimum": 0},
    }),
    "Message": _object({
        "id": {"type": "integer"},
        "direction": {"type": "string", "enum": [d.value for d in Direction], "description": "`in` from the client, `out` to them."},
        "author": _object({"kind": {"type": "string", "enum": [a.value for a in AuthorKind]},
                           "operator": _nullable(_ref("OperatorRef"))}),
        "text": {"type": "string"},
        "created_at": UTC_TIME,
        "delivery": _object({"status": {"type": "string", "enum": [d.value for d in DeliveryStatus]},
                             "error": {"type": "string"}},
                            description="`received` for client messages; outbound ones go queued -> sent -> delivered, or failed."),
        "attachments": {"type": "array", "items": _ref("Attachment")},
    }),
    "MessagePage": _object({
        "messages": {"type": "array", "items": _ref("Message")},
        "has_more": {"type": "boolean"},
        "next_after": {"type": "integer", "description": "Pass as `after` for the next page or to poll for newer messages."},
    }),
    "Note": _object({"id": {"type": "integer"}, "text": {"type": "string"},
                     "author": _nullable(_ref("OperatorRef")), "created_at": UTC_TIME},
                    description="An internal note: operators only, never sent to the client."),
    "NoteList": _object({"notes": {"type": "array", "items": _ref("Note")}}),
    "ReplyRequest": _object({"text": TEXT}),
    "NoteRequest": _object({"text": TEXT}),
    "ResolveRequest": _object({}, description="No fields; the body may also be left out."),
    "TransferRequest": _object({
        "queue": NAME | {"description": "Move the ticket to this queue (it becomes unassigned there)."},
        "operator": NAME | {"description": "Assign the ticket to this operator (username)."},
        "note": {"type": "string", "maxLength": MAX_REPLY, "description": "An internal note for the next person."},
    }, required=[], description="Give `queue`, `operator` or both."),
}

_TICKET = "/api/v1/tickets/{number}"
PATHS = {
    "/api/v1/tickets": {"get": {
        "operationId": "listTickets", "summary": "Tickets the caller may see, newest first",
        "parameters": [
            {"name": "status", "in": "query", "description": "`active` means new, open or waiting.",
             "schema": {"type": "string", "enum": [*TICKET_STATUSES, "active"]}},
            {"name": "queue", "in": "query", "description": "A queue name.", "schema": NAME},
            {"name": "assignee", "in": "query", "description": "An operator's username, or `none` for unassigned tickets.",
             "schema": NAME},
            _limit(50, 200),
            {"name": "cursor", "in": "query", "description": "`next_cursor` of the previous page.",
             "schema": {"type": "string", "pattern": r"^[0-9]{1,18}$"}},
        ],
        "responses": {"200": _json("A page of tickets.", _ref("TicketPage")), **_errors("401", "422")},
    }},
    _TICKET: {"get": {
        "operationId": "getTicket", "summary": "One ticket", "parameters": [_NUMBER],
        "responses": {"200": _json("The ticket.", _ref("Ticket")), **_errors("401", "404")},
    }},
    _TICKET + "/messages": {
        "get": {
            "operationId": "listMessages", "summary": "The ticket's messages, oldest first", "parameters": [
                _NUMBER,
                {"name": "after", "in": "query", "description": "Only messages with a greater id.",
                 "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999, "default": 0}},
                _limit(100, 500)],
            "responses": {"200": _json("A page of messages.", _ref("MessagePage")), **_errors("401", "404", "422")},
        },
        "post": {
            "operationId": "replyToTicket", "summary": "Reply to the client on their channel",
            "description": "The reply is queued for delivery (watch `delivery.status`); an unassigned ticket "
                           "is assigned to the caller and waits for the client.",
            "parameters": [_NUMBER], "requestBody": _body("ReplyRequest", "The reply."),
            "responses": {"201": _json("The queued message.", _ref("Message")),
                          **_errors("400", "401", "404", "413", "415", "422")},
        },
    },
    _TICKET + "/notes": {
        "get": {
            "operationId": "listNotes", "summary": "The ticket's internal notes, oldest first", "parameters": [_NUMBER],
            "responses": {"200": _json("The notes.", _ref("NoteList")), **_errors("401", "404")},
        },
        "post": {
            "operationId": "addNote", "summary": "Add an internal note", "parameters": [_NUMBER],
            "requestBody": _body("NoteRequest", "The note."),
            "responses": {"201": _json("The note.", _ref("Note")), **_errors("400", "401", "404", "413", "415", "422")},
        },
    },
    _TICKET + "/resolve": {"post": {
        "operationId": "resolveTicket", "summary": "Mark the ticket resolved (again is harmless)", "parameters": [_NUMBER],
        "requestBody": _body("ResolveRequest", "Nothing, or an empty object.", required=False),
        "responses": {"200": _json("The ticket.", _ref("Ticket")), **_errors("400", "401", "404", "413", "415", "422")},
    }},
    _TICKET + "/transfer": {"post": {
        "operationId": "transferTicket", "summary": "Move the ticket to another queue and/or operator",
        "description": "Returns the ticket as it is afterwards, even when it has left the caller's queues.",
        "parameters": [_NUMBER], "requestBody": _body("TransferRequest", "Where to."),
        "responses": {"200": _json("The ticket.", _ref("Ticket")), **_errors("400", "401", "404", "413", "415", "422")},
    }},
}

# Client segments (bot/feedback/api.py): loyal, core, difficult, dormant, computed by rules or pinned by admins.
SEGMENT_NAMES = ["loyal", "core", "difficult", "dormant"]
TAG = {"type": "string", "minLength": 1, "maxLength": 32, "pattern": r"\S"}
SCHEMAS["Segment"] = _object({
    "client_id": {"type": "integer"},
    "segment": _nullable({"type": "string", "enum": SEGMENT_NAMES}) | {"description": "The segment in force (null: not computed yet)."},
    "computed": _nullable({"type": "string", "enum": SEGMENT_NAMES}) | {"description": "What the rules say."},
    "pinned": {"type": "boolean", "description": "An admin pinned `segment`; the rules no longer change it."},
    "tags": {"type": "array", "items": {"type": "string"}},
    "reason": {"type": "string", "description": "Why the rules chose the computed segment."},
    "updated_at": _nullable(UTC_TIME),
})
SCHEMAS["SegmentRequest"] = _object({
    "segment": {"type": "string", "enum": [*SEGMENT_NAMES, "rules"],
                "description": "Pin this segment; `rules` unpins (the computed segment applies again)."},
    "add_tag": TAG | {"description": "Add a tag, e.g. `VIP`."},
    "remove_tag": TAG | {"description": "Remove a tag."},
    "reason": {"type": "string", "maxLength": 500, "description": "Recorded with the change."},
}, required=[], description="Any of the fields; each change is recorded in the client's segment history.")
_CLIENT = {"name": "client_id", "in": "path", "required": True, "description": "The client's id (`client.id` of a ticket).",
           "schema": {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999}}
PATHS["/api/v1/clients/{client_id}/segment"] = {
    "get": {
        "operationId": "getClientSegment", "summary": "A client's segment and tags (supervisors, managers, admins)",
        "parameters": [_CLIENT],
        "responses": {"200": _json("The segment.", _ref("Segment")), **_errors("401", "404"),
                      "403": _json("The caller is an operator.", _ref("Error"))},
    },
    "post": {
        "operationId": "setClientSegment", "summary": "Pin a segment, unpin it, or add and remove tags (admins)",
        "parameters": [_CLIENT], "requestBody": _body("SegmentRequest", "What to change."),
        "responses": {"200": _json("The segment afterwards.", _ref("Segment")),
                      **_errors("400", "401", "404", "413", "415", "422"),
                      "403": _json("The caller is not an admin.", _ref("Error"))},
    },
}

# Privacy requests (bot/console/privacy_api.py): admins only; each leaves an audit event naming the caller.
_ADMIN_ONLY = {"403": _json("The caller is not an admin.", _ref("Error"))}
SCHEMAS["ClientExport"] = {"type": "object", "required": ["client", "identities", "tickets", "surveys", "complaints"],
                           "description": "Everything stored about the client: the client row, channel identities, "
                                          "tickets with their messages, attachments and notes, surveys, complaints, "
                                          "follow-ups and the previous texts of edited messages.",
                           "properties": {"client": {"type": "object"}, "identities": {"type": "array"},
                                          "tickets": {"type": "array"}, "surveys": {"type": "array"},
                                          "complaints": {"type": "array"}, "follow_ups": {"type": "array"},
                                          "message_edits": {"type": "array"}}}
SCHEMAS["Erasure"] = _object({
    "client_id": {"type": "integer"},
    "messages": {"type": "integer", "description": "Message texts replaced by `[erased]`."},
    "attachments": {"type": "integer", "description": "Attachments removed from the messages."},
    "identities": {"type": "integer", "description": "Channel identities deleted (a later message starts a new client)."},
    "tickets": {"type": "integer", "description": "Tickets kept, without personal data, for statistics."},
    "texts": {"type": "integer", "description": "Notes, survey comments, complaint and follow-up texts cleared."},
    "files_removed": {"type": "integer", "description": "Stored files deleted (files other clients share stay; "
                                                        "one stored in the last minutes goes with a later sweep)."},
})
PATHS["/api/v1/clients/{client_id}/export"] = {"get": {
    "operationId": "exportClient", "summary": "All of a client's data as JSON (admins; audited)",
    "parameters": [_CLIENT],
    "responses": {"200": _json("The client's data.", _ref("ClientExport")), **_errors("401", "404"), **_ADMIN_ONLY},
}}
PATHS["/api/v1/clients/{client_id}/erase"] = {"post": {
    "operationId": "eraseClient", "summary": "Remove a client's personal data; tickets and statistics stay (admins; audited)",
    "parameters": [_CLIENT],
    "responses": {"200": _json("What was erased.", _ref("Erasure")), **_errors("401", "404"), **_ADMIN_ONLY},
}}


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "helpline REST API", "version": "1",
             "description": "Tickets, messages and notes of a helpline desk, for integrations. Authenticate with "
                            "`Authorization: Bearer hl_...` (create a token with `helpline tokens create USERNAME`); "
                            "a token acts with its operator's permissions. Errors are JSON: "
                            "`{\"error\": {\"code\", \"message\", \"field\"?}}`. Times are ISO 8601 in UTC."},
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "hl_ token"}},
    },
}


def resolve(schema: dict) -> dict:
    """Follow a local `$ref` into the components (one level is all the document uses)."""
    ref = schema.get("$ref")
    return SCHEMAS[ref.rsplit("/", 1)[1]] if ref else schema


def operation(method: str, path: str) -> dict:
    return PATHS[path][method]
