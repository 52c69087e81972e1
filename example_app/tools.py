"""The example server's tools, and the registry the MCP endpoint calls them through.

A tool is a function of (validated arguments, ``ToolContext``) to a pydantic model. Its
``tools/list`` entry is the SDK's own ``mcp_types.Tool``, with the input and output JSON schemas
generated from those pydantic models rather than written by hand, so the schema a client sees
and the validation the server runs cannot drift apart.

Tools receive the caller's verified ``AccessToken`` explicitly (in the context) instead of
reading a global: what a tool may see is decided by who called, and that shows in its
signature. A failure the caller can fix (bad arguments, a ``ToolError``) becomes an ``isError``
result a model can read and act on; a bug becomes one that reveals nothing.

Every call goes through ``ToolRegistry.call``: the one place where a per-tool requirement is
enforced. A tool may declare scopes of its own (``add_note`` needs ``notes:write``), demanded
with ``require_scopes`` before its arguments are even read. A token that lacks one is not a
tool failure but an authorization one: ``require_scopes`` raises, the call never becomes a
JSON-RPC answer, and the POST is answered 403 ``insufficient_scope`` with the challenge naming
every scope the call needs. That HTTP answer is what MCP clients step up on (they re-authorize
with those scopes and retry); a JSON-RPC error would only be shown to the model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flask_clerk_mcp import AccessToken, require_scopes

from .notes import MAX_NOTE_LENGTH, NoteError, NoteStore

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


class Strict(BaseModel):
    """Arguments and results name every field: anything else is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


Handler = Callable[[Any, ToolContext], BaseModel]


@dataclass(frozen=True)
class RegisteredTool:
    """A tool's public definition (the SDK's model) and how to run it."""

    definition: types.Tool
    arguments: type[BaseModel]
    handler: Handler
    summarize: Callable[[Any], str]
    #: Scopes this tool needs on top of the endpoint's (``require_scopes``).
    scopes: tuple[str, ...] = ()


class ToolRegistry:
    """Tools by name, in the order they were registered."""

    def __init__(self) -> None:
        self._tools: dict[str, RegisteredTool] = {}

    def tool(
        self,
        *,
        title: str,
        arguments: type[BaseModel],
        output: type[BaseModel],
        summarize: Callable[[Any], str],
        scopes: tuple[str, ...] = (),
        **hints: bool,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as a tool named after it; its docstring describes it.

        ``scopes``: what the caller's token needs for this tool, beyond the endpoint's scopes.
        """

        def register(handler: Handler) -> Handler:
            definition = types.Tool(
                name=handler.__name__,
                title=title,
                description=" ".join((handler.__doc__ or "").split()),
                input_schema=arguments.model_json_schema(),
                output_schema=output.model_json_schema(),
                annotations=types.ToolAnnotations(title=title, **hints),
            )
            self._tools[definition.name] = RegisteredTool(
                definition, arguments, handler, summarize, tuple(scopes)
            )
            return handler

        return register

    def definitions(self) -> list[types.Tool]:
        return [tool.definition for tool in self._tools.values()]

    def __iter__(self) -> Iterator[types.Tool]:
        return iter(self.definitions())

    def call(
        self, name: str, arguments: dict[str, Any] | None, context: ToolContext
    ) -> types.CallToolResult:
        """Run a tool; always answers with a result, except for an unknown tool
        (``UnknownTool``) and a token without the tool's scopes (``require_scopes`` raises the
        403 ``insufficient_scope`` answer, which must reach the client as HTTP)."""
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownTool(name)
        if tool.scopes:
            require_scopes(*tool.scopes)  # outside the try below: never an isError result
        try:
            output = tool.handler(tool.arguments.model_validate(arguments or {}), context)
        except ValidationError as exc:
            return _failed("Invalid arguments: " + _explain(exc))
        except ToolError as exc:
            return _failed(str(exc))
        except Exception:
            # A bug, not the caller's doing: logged here, and no internals reach the client.
            log.exception("tool %s failed", name)
            return _failed(f"The {name} tool failed unexpectedly")
        structured = output.model_dump(mode="json")
        return types.CallToolResult(
            content=[types.TextContent(text=tool.summarize(output))],
            structured_content=structured,
        )


def _failed(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors as one line, without echoing the (possibly large) input back."""
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'arguments'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    )


# -- the tools ---------------------------------------------------------------------------------
tools = ToolRegistry()

#: The scope ``add_note`` needs: a custom scope of the Clerk application (dashboard, Scopes tab;
#: the emulator: ``--custom-scope notes:write``). Reading needs only the endpoint's scopes.
NOTES_WRITE = "notes:write"


class NoArguments(Strict):
    pass


class AddNoteArguments(Strict):
    text: str = Field(
        max_length=MAX_NOTE_LENGTH,
        description=f"The note's text (1 to {MAX_NOTE_LENGTH} characters).",
        # The store says "a note needs some text" better than a pydantic message would.
        json_schema_extra={"minLength": 1},
    )


class Identity(Strict):
    subject: str
    email: str | None
    name: str | None
    client_id: str
    scopes: list[str]


class NoteOut(Strict):
    id: int
    text: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})


class Added(Strict):
    note: NoteOut
    count: int


class Notes(Strict):
    notes: list[NoteOut]
    count: int


def _who(identity: Identity) -> str:
    who = identity.email or identity.subject
    return (
        f"You are {who} (user {identity.subject}), calling through OAuth client "
        f"{identity.client_id}.\n{json.dumps(identity.model_dump(), indent=2)}"
    )


def _listing(notes: Notes) -> str:
    if not notes.notes:
        return "You have no notes yet. Add one with add_note."
    lines = [f"#{n.id} ({n.created_at}): {n.text}" for n in notes.notes]
    return f"You have {notes.count} note(s):\n" + "\n".join(lines)


@tools.tool(
    title="Who am I?",
    arguments=NoArguments,
    output=Identity,
    summarize=_who,
    read_only_hint=True,
    open_world_hint=False,
)
def whoami(arguments: NoArguments, context: ToolContext) -> Identity:
    """The caller's identity as verified by Clerk: user id (subject), email, name, the OAuth
    client the token was issued to, and its scopes."""
    token = context.token
    return Identity(
        subject=token.subject,
        email=_string_claim(token, "email"),
        name=_string_claim(token, "name"),
        client_id=token.client_id,
        scopes=list(token.scopes),
    )


@tools.tool(
    title="Add a note",
    arguments=AddNoteArguments,
    output=Added,
    summarize=lambda a: f"Saved note #{a.note.id}. You now have {a.count} note(s).",
    scopes=(NOTES_WRITE,),
    read_only_hint=False,
    destructive_hint=False,
    idempotent_hint=False,
    open_world_hint=False,
)
def add_note(arguments: AddNoteArguments, context: ToolContext) -> Added:
    """Save a short private note for the signed-in user. Notes are private: no other user can
    list them."""
    try:
        note, count = context.notes.add(context.token.subject, arguments.text)
    except NoteError as exc:
        raise ToolError(str(exc)) from None
    return Added(note=NoteOut(**note.to_json()), count=count)


@tools.tool(
    title="List my notes",
    arguments=NoArguments,
    output=Notes,
    summarize=_listing,
    read_only_hint=True,
    open_world_hint=False,
)
def list_notes(arguments: NoArguments, context: ToolContext) -> Notes:
    """List the signed-in user's own notes, oldest first."""
    try:
        notes = context.notes.notes_of(context.token.subject)
    except NoteError as exc:
        raise ToolError(str(exc)) from None
    return Notes(notes=[NoteOut(**n.to_json()) for n in notes], count=len(notes))


def _string_claim(token: AccessToken, name: str) -> str | None:
    value = token.claims.get(name)
    return value if isinstance(value, str) else None
