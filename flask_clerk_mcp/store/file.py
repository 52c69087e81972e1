"""The default store: one file per entry in a private directory, shared by every worker.

Why not cachelib's ``FileSystemCache``: its ``add`` checks then writes and its ``delete`` is
not a consume, so two gunicorn workers could both redeem one authorization code. Here every
operation that must be atomic is a single filesystem call the kernel serialises:

- ``put`` writes a temporary file and ``os.replace``-s it over the entry, so a reader sees the
  old value or the new one, never half of either;
- ``pop`` ``os.rename``-s the entry to a unique claim name: of concurrent renamers exactly one
  finds the entry, the others find nothing; the winner then reads and unlinks its claim;
- ``add`` ``os.link``-s a complete temporary file to the entry name, which fails if the name
  exists;
- ``delete`` unlinks; a missing entry is fine.

The one check-then-act sequence left is replacing an *expired* entry (in ``add``, and in the
cleanup sweep): between "this entry is expired" and "remove it", another worker could have
written a fresh value that would be lost. So ``put``, ``add`` and the sweep hold a per-stripe
``flock`` (256 lock files, chosen by the entry name's first byte) around the step that
touches the entry name. ``get``, ``pop`` and ``delete`` need no lock: whatever they see or
remove is, at that instant, the current entry. ``flock`` locks belong to an open file
description, so they exclude threads of one process as well as processes, and nothing is
held across ``fork`` (each operation opens its lock file afresh).

File layout: ``magic "FCS\\x01" | expires_at (float64, big-endian) | cipher blob``. The header
expiry is for housekeeping only (the sweep cannot decrypt: the key name is the associated
data and only its hash is on disk); reads trust the expiry inside the encrypted payload. The
file's mtime is set to the expiry as well, so the sweep can skip live entries by ``stat``
alone. Names are SHA-256 hashes of the keys; temporary, claim and lock files start with a
dot. One host only: ``os.rename`` and ``flock`` are not to be trusted over NFS, and workers on
different hosts need the Redis store anyway. No ``fsync``: a crash may lose the last writes
(a login to redo), never leave a torn value readable (it fails authentication).
"""

from __future__ import annotations

import math
import os
import secrets
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .base import (
    JSONValue,
    StoreError,
    TamperReporter,
    check_key,
    check_ttl,
    dumps,
    entry_name,
    loads,
    log,
)
from .cipher import StoreCipher, TamperedValue

if sys.platform != "win32":
    import fcntl

_MAGIC = b"FCS\x01"
_HEADER = struct.Struct(">4sd")
_EXPIRES = struct.Struct(">d")
_TMP = ".tmp-"
_CLAIM = ".claim-"
_LOCK = ".lock-"
_HEX = frozenset("0123456789abcdef")
#: A temporary or claim file older than this was left by a crashed process.
_LEFTOVER_AGE = 600.0
#: The mtime hint is clamped so that absurd ttls cannot overflow the platform's time_t.
_MAX_MTIME = 1e11


class FileStore:
    """Encrypted entries in ``directory`` (created 0o700 on first write; files 0o600).

    ``clock`` (epoch seconds) is injectable so tests can expire entries without sleeping.
    Writes also sweep expired entries and crash leftovers: every ``sweep_interval`` seconds,
    and besides after every ``sweep_limit // 4`` writes of this process. Each sweep looks at
    no more than ``sweep_limit`` directory entries (it resumes where it stopped next time),
    so cleanup is cheap and bounded per call. The write count is what keeps cleanup ahead of
    growth: a timer alone removes at most ``sweep_limit`` per interval, which a stream of
    anonymous logins (one entry each) outruns; counted sweeps look at four entries per
    write, so every entry is looked at again within a quarter as many writes as the
    directory holds, and expired entries never pile up beyond a fraction of the live ones.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        cipher: StoreCipher,
        *,
        clock: Callable[[], float] = time.time,
        sweep_interval: float = 300.0,
        sweep_limit: int = 2000,
    ) -> None:
        if sys.platform == "win32":  # pragma: no cover - gunicorn does not run there either
            raise StoreError("the file store needs POSIX rename and flock; use Redis")
        if not isinstance(cipher, StoreCipher):
            raise TypeError("FileStore needs a StoreCipher")
        self._dir = os.path.abspath(os.path.expanduser(os.fspath(directory)))
        self._cipher = cipher
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._sweep_limit = max(1, sweep_limit)
        self._sweep_every = max(1, self._sweep_limit // 4)
        self._writes_since_sweep = 0
        self._sweep_cursor = 0
        self._next_sweep = 0.0
        self._sweeping = threading.Lock()
        self._ready = False
        self._tamper = TamperReporter("file")

    @property
    def directory(self) -> str:
        """The directory holding the entries."""
        return self._dir

    def __repr__(self) -> str:
        return f"FileStore({self._dir!r})"

    # -- the Store protocol ----------------------------------------------------------------

    def put(self, key: str, value: JSONValue, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""
        name, expires, data = self._encode(key, value, ttl)
        with self._failures("put"):
            tmp = self._write_temp(expires, data)
            try:
                with self._locked(name):
                    os.replace(tmp, self._path(name))
            except BaseException:
                _unlink_quietly(tmp)
                raise
        self._maybe_sweep()

    def add(self, key: str, value: JSONValue, ttl: int) -> bool:
        """Store only if ``key`` is absent or expired; True if this call set it (a lock)."""
        name, expires, data = self._encode(key, value, ttl)
        path = self._path(name)
        with self._failures("add"):
            tmp = self._write_temp(expires, data)
            try:
                with self._locked(name):
                    added = self._add_locked(key, name, path, tmp)
            finally:
                _unlink_quietly(tmp)
        if added:
            self._maybe_sweep()
        return added

    def get(self, key: str) -> JSONValue | None:
        """The live value under ``key``, or None."""
        check_key(key)
        name = entry_name(key)
        with self._failures("get"):
            raw = _read(self._path(name))
        return None if raw is None else self._decode(key, name, raw)

    def pop(self, key: str) -> JSONValue | None:
        """Remove and return the value under ``key``: of concurrent pops exactly one gets it."""
        check_key(key)
        name = entry_name(key)
        claim = self._path(_CLAIM + secrets.token_hex(8))
        with self._failures("pop"):
            try:
                os.rename(self._path(name), claim)
            except FileNotFoundError:
                return None
            try:
                raw = _read(claim)
            finally:
                _unlink_quietly(claim)
        return None if raw is None else self._decode(key, name, raw)

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is fine."""
        check_key(key)
        with self._failures("delete"):
            _unlink_quietly(self._path(entry_name(key)))

    # -- housekeeping ----------------------------------------------------------------------

    def sweep(self) -> int:
        """Remove expired entries and crash leftovers; returns how many files went.

        Looks at no more than ``sweep_limit`` directory entries, resuming after them on the
        next call. Live entries are skipped by their mtime hint without being opened.
        """
        with self._failures("sweep"):
            try:
                with os.scandir(self._dir) as entries:
                    return self._sweep_entries(entries)
            except FileNotFoundError:
                return 0

    def _sweep_entries(self, entries: Iterator[os.DirEntry[str]]) -> int:
        now = self._clock()
        stale_before = time.time() - _LEFTOVER_AGE
        start, self._sweep_cursor = self._sweep_cursor, 0
        removed = 0
        looked = 0
        for index, entry in enumerate(entries):
            if index < start:
                continue
            if looked >= self._sweep_limit:
                # Resume here next time; what this pass removed no longer comes before.
                self._sweep_cursor = index - removed
                break
            looked += 1
            name = entry.name
            try:
                if len(name) == 64 and _HEX.issuperset(name):
                    if entry.stat(follow_symlinks=False).st_mtime <= now:
                        removed += self._remove_if_expired(name, now)
                elif name.startswith((_TMP, _CLAIM)):
                    if entry.stat(follow_symlinks=False).st_ctime < stale_before:
                        _unlink_quietly(entry.path)
                        removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _maybe_sweep(self) -> None:
        # The count is approximate under threads (an increment may be lost): it only decides
        # when to sweep, and a missed write merely delays a sweep by one write.
        self._writes_since_sweep += 1
        due = self._writes_since_sweep >= self._sweep_every
        if (not due and time.monotonic() < self._next_sweep) or not self._sweeping.acquire(
            blocking=False
        ):
            return
        try:
            self._next_sweep = time.monotonic() + self._sweep_interval
            self._writes_since_sweep = 0
            self.sweep()
        except StoreError as exc:  # cleanup is best effort; the write itself succeeded
            log.debug("%s", exc)
        finally:
            self._sweeping.release()

    def _remove_if_expired(self, name: str, now: float) -> int:
        path = self._path(name)
        with self._locked(name):
            expires = _header_expiry(path)
            if expires is None or expires > now:
                return 0
            _unlink_quietly(path)
            return 1

    # -- internals -------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return os.path.join(self._dir, name)

    def _encode(self, key: str, value: JSONValue, ttl: int) -> tuple[str, float, bytes]:
        check_key(key)
        check_ttl(ttl)
        data = dumps(value)  # refuse a non-JSON value before touching the disk
        expires = self._clock() + ttl
        blob = self._cipher.encrypt(key, _EXPIRES.pack(expires) + data)
        return entry_name(key), expires, _HEADER.pack(_MAGIC, expires) + blob

    def _decode(self, key: str, name: str, raw: bytes) -> JSONValue | None:
        """The live value in ``raw``, or None if expired or not genuine (reported once)."""
        try:
            if len(raw) < _HEADER.size or raw[: len(_MAGIC)] != _MAGIC:
                raise TamperedValue("not a store file")
            plain = self._cipher.decrypt(key, raw[_HEADER.size :])
            (expires,) = _EXPIRES.unpack_from(plain)
            if expires <= self._clock():
                return None
            return loads(plain[_EXPIRES.size :])
        except (TamperedValue, struct.error, ValueError):
            # ValueError covers undecodable JSON, which only a forged plaintext could hold.
            self._tamper.report(name)
            return None

    def _add_locked(self, key: str, name: str, path: str, tmp: str) -> bool:
        # Under the stripe lock nothing else can create the entry (put and add hold the same
        # lock); pop and delete may still remove it, hence the retry when it vanishes.
        for _ in range(3):
            try:
                os.link(tmp, path)
                return True
            except FileExistsError:
                pass
            raw = _read(path)
            if raw is None:
                continue  # popped or deleted meanwhile: link again
            if self._decode(key, name, raw) is not None:
                return False
            # Expired or unreadable, so it reads as absent and add must succeed. Replacing it
            # is safe under the lock: no fresh value can have taken its place since the read.
            os.replace(tmp, path)
            return True
        raise StoreError(f"file store {self._dir!r}: add could not settle")  # pragma: no cover

    def _prepare(self) -> None:
        """Create the directory on first write (so read-only CLI runs never need it)."""
        if self._ready:
            return
        os.makedirs(self._dir, mode=0o700, exist_ok=True)
        mode = stat.S_IMODE(os.stat(self._dir).st_mode)
        if mode & 0o077:
            log.warning(
                "file store directory %r is open to other users (mode %03o); make it 0700",
                self._dir,
                mode,
            )
        self._ready = True

    def _write_temp(self, expires: float, data: bytes) -> str:
        """Write ``data`` to a fresh 0o600 temporary file next to the entries; its path."""
        self._prepare()
        tmp = self._path(_TMP + secrets.token_hex(8))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileNotFoundError:
            # The directory went away (a tmp cleaner, an operator): make it again, once.
            self._ready = False
            self._prepare()
            fd = os.open(tmp, flags, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            hint = min(expires, _MAX_MTIME) if math.isfinite(expires) else _MAX_MTIME
            os.utime(tmp, (hint, hint))
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        fd = os.open(self._path(_LOCK + name[:2]), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    @contextmanager
    def _failures(self, operation: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise StoreError(
                f"file store {self._dir!r}: {operation} failed "
                f"({exc.strerror or type(exc).__name__})"
            ) from exc


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _header_expiry(path: str) -> float | None:
    """The housekeeping expiry of an entry; None if it is gone, -inf if it is not ours."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER.size)
    except FileNotFoundError:
        return None
    if len(header) < _HEADER.size or header[: len(_MAGIC)] != _MAGIC:
        return -math.inf
    expires: float = _HEADER.unpack(header)[1]
    return expires if not math.isnan(expires) else -math.inf


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
