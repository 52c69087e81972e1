"""The example server's tools, and the small registry the MCP layer talks to.

Tools receive the caller's verified ``AccessToken`` explicitly (in a ``ToolContext``) instead of
reading a global: what a tool may see is decided by who called, and that should be visible in
its signature. A tool reports a failure the caller can fix by raising ``ToolError``; the MCP
layer turns it into an ``isError`` result, so a model can read it and try again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_clerk_mcp import AccessToken

from .notes import NoteError, NoteStore

log = logging.getLogger(__name__)


class ToolError(Exception):
    """A tool failed in a way worth telling the caller (becomes ``isError: true``)."""


class UnknownTool(KeyError):
    """No tool has this name (a protocol error, not a tool failure)."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool call may use: the verified caller and the notes store."""

    token: AccessToken
    notes: NoteStore


@dataclass(frozen=True)
class ToolOutput:
    """What a tool produced: a text for any client, structured data for those that read it."""

    text: str
    structured: dict[str, Any] | None = None


Handler = Callable[[Mapping[str, Any], ToolContext], ToolOutput]


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] = field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        """The entry ``tools/list`` shows for this tool."""
        entry: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
        }
        if self.output_schema is not None:
            entry["outputSchema"] = self.output_schema
        if self.annotations:
            entry["annotations"] = {"title": self.title, **self.annotations}
        return entry


class ToolRegistry:
    """Tools by name, in the order they were registered."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}

    def definitions(self) -> list[dict[str, Any]]:
        return [tool.definition() for tool in self._tools.values()]

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownTool(name) from None

    def __iter__(self) -> Any:
        return iter(self._tools.values())


# -- the tools ---------------------------------------------------------------------------------
_NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NOTE_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "text": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "text", "created_at"],
    "additionalProperties": False,
}


def whoami(arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
    """Who Clerk says the caller is, straight from the verified token."""
    _expect_no_arguments(arguments)
    token = context.token
    identity = {
        "subject": token.subject,
        "email": _string_claim(token, "email"),
        "name": _string_claim(token, "name"),
        "client_id": token.client_id,
        "scopes": list(token.scopes),
    }
    who = identity["email"] or identity["subject"]
    text = (
        f"You are {who} (user {token.subject}), calling through OAuth client {token.client_id}.\n"
    )
    return ToolOutput(text=text + json.dumps(identity, indent=2), structured=identity)


def add_note(arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
    """Keep a note for the caller; only the same user can ever list it."""
    unexpected = sorted(set(arguments) - {"text"})
    if unexpected:
        raise ToolError(f"Unexpected argument(s): {', '.join(unexpected)}; add_note takes 'text'")
    text = arguments.get("text")
    if not isinstance(text, str):
        raise ToolError("'text' is required and must be a string")
    try:
        note, count = context.notes.add(context.token.subject, text)
    except NoteError as exc:
        raise ToolError(str(exc)) from None
    return ToolOutput(
        text=f"Saved note #{note.id}. You now have {count} note(s).",
        structured={"note": note.to_json(), "count": count},
    )


def list_notes(arguments: Mapping[str, Any], context: ToolContext) -> ToolOutput:
    """The caller's own notes, oldest first."""
    _expect_no_arguments(arguments)
    try:
        notes = context.notes.notes_of(context.token.subject)
    except NoteError as exc:
        raise ToolError(str(exc)) from None
    if notes:
        lines = [f"#{n.id} ({n.created_at}): {n.text}" for n in notes]
        text = f"You have {len(notes)} note(s):\n" + "\n".join(lines)
    else:
        text = "You have no notes yet. Add one with add_note."
    return ToolOutput(
        text=text, structured={"notes": [n.to_json() for n in notes], "count": len(notes)}
    )


def default_tools() -> ToolRegistry:
    return ToolRegistry(
        [
            Tool(
                name="whoami",
                title="Who am I?",
                description="The caller's identity as verified by Clerk: user id (subject), "
                "email, name, the OAuth client the token was issued to, and its scopes.",
                input_schema=_NO_ARGUMENTS,
                output_schema={
                    "type": "object",
                    "properties": {
                        "subject": {"type": "string"},
                        "email": _NULLABLE_STRING,
                        "name": _NULLABLE_STRING,
                        "client_id": {"type": "string"},
                        "scopes": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["subject", "email", "name", "client_id", "scopes"],
                    "additionalProperties": False,
                },
                handler=whoami,
                annotations={"readOnlyHint": True, "openWorldHint": False},
            ),
            Tool(
                name="add_note",
                title="Add a note",
                description="Save a short private note for the signed-in user. "
                "Notes are private: no other user can list them.",
                input_schema={
                    "type": "object",
                    "properties": {
                        "text": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 2000,
                            "description": "The note's text (1 to 2000 characters).",
                        }
                    },
                    "required": ["text"],
                    "additionalProperties": False,
                },
                output_schema={
                    "type": "object",
                    "properties": {"note": _NOTE_SCHEMA, "count": {"type": "integer"}},
                    "required": ["note", "count"],
                    "additionalProperties": False,
                },
                handler=add_note,
                annotations={
                    "readOnlyHint": False,
                    "destructiveHint": False,
                    "idempotentHint": False,
                    "openWorldHint": False,
                },
            ),
            Tool(
                name="list_notes",
                title="List my notes",
                description="List the signed-in user's own notes, oldest first.",
                input_schema=_NO_ARGUMENTS,
                output_schema={
                    "type": "object",
                    "properties": {
                        "notes": {"type": "array", "items": _NOTE_SCHEMA},
                        "count": {"type": "integer"},
                    },
                    "required": ["notes", "count"],
                    "additionalProperties": False,
                },
                handler=list_notes,
                annotations={"readOnlyHint": True, "openWorldHint": False},
            ),
        ]
    )


def _expect_no_arguments(arguments: Mapping[str, Any]) -> None:
    if arguments:
        raise ToolError(f"This tool takes no arguments, got: {', '.join(sorted(arguments))}")


def _string_claim(token: AccessToken, name: str) -> str | None:
    value = token.claims.get(name)
    return value if isinstance(value, str) else None
