"""Per-user notes on disk, safe to share between gunicorn workers and their threads.

One JSON file per user, named by a hash of the token's subject (so no user-chosen string ever
reaches a path). Writers serialise on an ``flock`` of a per-user lock file and replace the data
file atomically (temporary file, fsync, ``os.replace``), so readers never need the lock and never
see half a file, and two workers adding at once both keep their note.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_NOTE_LENGTH = 2000
MAX_NOTES_PER_USER = 200


class NoteError(Exception):
    """A note could not be stored for a reason the caller can act on (shown to the user)."""


@dataclass(frozen=True)
class Note:
    id: int
    text: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class NoteStore:
    """Notes kept under ``directory``, one file per subject."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_notes: int = MAX_NOTES_PER_USER,
        max_length: int = MAX_NOTE_LENGTH,
    ) -> None:
        self.directory = Path(directory)
        self.max_notes = max_notes
        self.max_length = max_length

    def notes_of(self, subject: str) -> list[Note]:
        """The subject's notes, oldest first."""
        return self._read(subject)

    def add(self, subject: str, text: str) -> tuple[Note, int]:
        """Store a note; returns it and how many notes the subject now has."""
        text = text.strip()
        if not text:
            raise NoteError("A note needs some text")
        if len(text) > self.max_length:
            raise NoteError(f"A note is at most {self.max_length} characters")
        with self._locked(subject):
            notes = self._read(subject)
            if len(notes) >= self.max_notes:
                raise NoteError(
                    f"You already have {self.max_notes} notes, the most this demo keeps"
                )
            note = Note(
                id=(notes[-1].id + 1) if notes else 1,
                text=text,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            notes.append(note)
            self._write(subject, notes)
        return note, len(notes)

    # -- files -------------------------------------------------------------------------------
    def _stem(self, subject: str) -> str:
        return hashlib.sha256(subject.encode("utf-8")).hexdigest()

    def _path(self, subject: str) -> Path:
        return self.directory / f"{self._stem(subject)}.json"

    @contextmanager
    def _locked(self, subject: str) -> Iterator[None]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self.directory / f"{self._stem(subject)}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # separate open()s contend, threads included
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self, subject: str) -> list[Note]:
        try:
            with self._path(subject).open("r", encoding="utf-8") as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return []
        # The subject is stored too: a file must never answer for anyone else.
        if not isinstance(document, dict) or document.get("subject") != subject:
            raise NoteError("The notes file is unreadable")
        return [
            Note(id=int(n["id"]), text=str(n["text"]), created_at=str(n["created_at"]))
            for n in document.get("notes", [])
        ]

    def _write(self, subject: str, notes: list[Note]) -> None:
        document = {"subject": subject, "notes": [note.to_json() for note in notes]}
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".notes-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self._path(subject))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
