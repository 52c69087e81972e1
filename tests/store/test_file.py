"""FileStore specifics: what lands on disk, permissions, tampering, expiry, cleanup."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import struct
from pathlib import Path
from typing import Any

import pytest

import flask_clerk_mcp.store.file as file_module
from flask_clerk_mcp.store import FileStore, StoreCipher, StoreError, derive_store_key

from .conftest import FakeClock

SECRET_KEY_NAME = "session:s3cr3t-session-id"
SECRET_VALUE = "refresh-token-do-not-leak"


def entries(directory: Path) -> list[Path]:
    """The entry files (not lock, temporary or claim files)."""
    return [path for path in directory.iterdir() if not path.name.startswith(".")]


def only_entry(directory: Path) -> Path:
    (path,) = entries(directory)
    return path


def test_nothing_on_disk_shows_the_key_or_the_value(file_store: FileStore, store_dir: Path) -> None:
    file_store.put(SECRET_KEY_NAME, {"refresh_token": SECRET_VALUE}, 60)
    names = os.listdir(store_dir)
    assert not any("s3cr3t" in name or "session" in name for name in names)
    path = only_entry(store_dir)
    assert len(path.name) == 64 and set(path.name) <= set("0123456789abcdef")
    content = path.read_bytes()
    assert SECRET_VALUE.encode() not in content
    assert SECRET_KEY_NAME.encode() not in content


def test_directory_is_0700_and_files_0600_whatever_the_umask(
    store_dir: Path, cipher: StoreCipher
) -> None:
    old = os.umask(0)
    try:
        store = FileStore(store_dir, cipher)
        store.put("k", 1, 60)
        store.add("lock", 1, 60)
    finally:
        os.umask(old)
    assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700
    files = list(store_dir.iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_directory_is_created_on_first_write_not_before(
    store_dir: Path, cipher: StoreCipher
) -> None:
    store = FileStore(store_dir / "nested", cipher)
    assert store.get("k") is None and store.pop("k") is None
    store.delete("k")
    assert not store_dir.exists()
    store.put("k", 1, 60)
    assert store.get("k") == 1


def test_a_directory_removed_under_the_store_is_made_again(
    file_store: FileStore, store_dir: Path
) -> None:
    file_store.put("k", 1, 60)
    shutil.rmtree(store_dir)
    assert file_store.get("k") is None
    file_store.put("k", 2, 60)
    assert file_store.get("k") == 2
    assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700


def test_an_open_existing_directory_is_warned_about(
    store_dir: Path, cipher: StoreCipher, caplog: pytest.LogCaptureFixture
) -> None:
    store_dir.mkdir(mode=0o755)
    store_dir.chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="flask_clerk_mcp.store"):
        FileStore(store_dir, cipher).put("k", 1, 60)
    assert "0700" in caplog.text


def test_expired_entries_read_as_absent(file_store: FileStore, clock: FakeClock) -> None:
    file_store.put("k", "v", 10)
    clock.advance(9.9)
    assert file_store.get("k") == "v"
    clock.advance(0.1)
    assert file_store.get("k") is None
    assert file_store.pop("k") is None


def test_add_replaces_an_expired_entry(file_store: FileStore, clock: FakeClock) -> None:
    assert file_store.add("lock", "old", 5)
    clock.advance(4)
    assert not file_store.add("lock", "new", 5)
    clock.advance(1)
    assert file_store.add("lock", "new", 5)
    assert file_store.get("lock") == "new"


def test_put_renews_the_lifetime(file_store: FileStore, clock: FakeClock) -> None:
    file_store.put("k", 1, 10)
    clock.advance(8)
    file_store.put("k", 2, 10)
    clock.advance(8)
    assert file_store.get("k") == 2


def flip_a_byte(path: Path, position: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("position", [-1, 20, 0], ids=["tag", "ciphertext", "magic"])
def test_a_tampered_file_reads_as_absent_and_is_logged_once(
    file_store: FileStore,
    store_dir: Path,
    caplog: pytest.LogCaptureFixture,
    position: int,
) -> None:
    file_store.put(SECRET_KEY_NAME, SECRET_VALUE, 60)
    flip_a_byte(only_entry(store_dir), position)
    with caplog.at_level(logging.WARNING, logger="flask_clerk_mcp.store"):
        assert file_store.get(SECRET_KEY_NAME) is None
        assert file_store.get(SECRET_KEY_NAME) is None
        assert file_store.pop(SECRET_KEY_NAME) is None
    warnings = [r for r in caplog.records if r.name == "flask_clerk_mcp.store"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert SECRET_VALUE not in caplog.text and "s3cr3t" not in caplog.text


def test_a_tampered_expiry_in_the_header_does_not_extend_the_life(
    file_store: FileStore, store_dir: Path, clock: FakeClock
) -> None:
    file_store.put("k", "v", 10)
    path = only_entry(store_dir)
    data = bytearray(path.read_bytes())
    data[4:12] = struct.pack(">d", clock.now + 1e9)  # the housekeeping header: far future
    path.write_bytes(bytes(data))
    clock.advance(11)
    assert file_store.get("k") is None  # the authenticated expiry inside the payload wins


def test_a_value_copied_under_another_key_fails(file_store: FileStore, store_dir: Path) -> None:
    file_store.put("session:alice", {"user": "alice"}, 60)
    alice = only_entry(store_dir)
    file_store.put("session:mallory", {"user": "mallory"}, 60)
    mallory = next(path for path in entries(store_dir) if path != alice)
    mallory.write_bytes(alice.read_bytes())
    assert file_store.get("session:mallory") is None
    assert file_store.get("session:alice") == {"user": "alice"}


def test_another_key_material_reads_nothing(
    file_store: FileStore, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file_store.put("k", "v", 60)
    rotated = FileStore(store_dir, StoreCipher(derive_store_key("rotated SECRET_KEY")))
    with caplog.at_level(logging.WARNING, logger="flask_clerk_mcp.store"):
        assert rotated.get("k") is None
    assert "failed authentication" in caplog.text
    # What cannot be read counts as absent for add as well: the new key can take it over.
    assert rotated.add("k", "mine", 60)
    assert rotated.get("k") == "mine"


def test_pop_leaves_no_files_behind(file_store: FileStore, store_dir: Path) -> None:
    file_store.put("k", "v", 60)
    assert file_store.pop("k") == "v"
    assert entries(store_dir) == []
    assert not [p for p in store_dir.iterdir() if p.name.startswith((".tmp-", ".claim-"))]


def test_failed_add_leaves_no_temporary_file(file_store: FileStore, store_dir: Path) -> None:
    file_store.add("k", 1, 60)
    file_store.add("k", 2, 60)
    assert not [p for p in store_dir.iterdir() if p.name.startswith(".tmp-")]


def test_sweep_removes_expired_entries_and_keeps_live_ones(
    file_store: FileStore, store_dir: Path, clock: FakeClock
) -> None:
    for index in range(20):
        file_store.put(f"short:{index}", index, 5)
    file_store.put("long", "kept", 100)
    clock.advance(10)
    assert file_store.sweep() == 20
    assert len(entries(store_dir)) == 1
    assert file_store.get("long") == "kept"


def test_sweep_is_bounded_and_resumes(
    store_dir: Path, cipher: StoreCipher, clock: FakeClock
) -> None:
    store = FileStore(store_dir, cipher, clock=clock, sweep_limit=10, sweep_interval=1e9)
    for index in range(30):
        store.put(f"k{index}", index, 5)
    clock.advance(10)
    removed = [store.sweep() for _ in range(12)]  # 30 entries + lock files, 10 at a time
    assert all(count <= 10 for count in removed)
    assert sum(removed) == 30
    assert entries(store_dir) == []


def test_writes_sweep_by_themselves(store_dir: Path, cipher: StoreCipher, clock: FakeClock) -> None:
    store = FileStore(store_dir, cipher, clock=clock, sweep_interval=0)
    store.put("old", 1, 5)
    clock.advance(10)
    store.put("new", 2, 5)
    assert [path.name for path in entries(store_dir)] == [hashlib.sha256(b"new").hexdigest()]


def test_sweeping_keeps_pace_with_writes(
    store_dir: Path, cipher: StoreCipher, clock: FakeClock
) -> None:
    # Anonymous GET /login writes a 600 s entry per request. However fast they come, the
    # writes themselves must remove expired entries faster than they add new ones: sweeping
    # on a timer alone (once per sweep_interval, sweep_limit entries each) falls behind.
    store = FileStore(store_dir, cipher, clock=clock)  # default interval and limit
    burst = 3000
    for index in range(burst):
        store.put(f"old:{index}", index, 600)
    assert len(entries(store_dir)) == burst
    clock.advance(601)
    for index in range(burst):
        store.put(f"new:{index}", index, 600)
    live = {hashlib.sha256(f"new:{index}".encode()).hexdigest() for index in range(burst)}
    assert {path.name for path in entries(store_dir)} == live


def test_write_triggered_sweeps_stay_bounded(
    store_dir: Path, cipher: StoreCipher, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(store_dir, cipher, clock=clock, sweep_limit=40, sweep_interval=1e9)
    looked: list[int] = []
    real_sweep_entries = store._sweep_entries

    def counting(found: Any) -> int:
        skipped = store._sweep_cursor  # entries before the cursor are passed over unexamined
        seen = 0

        def counted() -> Any:
            nonlocal seen
            for entry in found:
                seen += 1
                yield entry

        try:
            return real_sweep_entries(counted())
        finally:
            looked.append(max(seen - skipped, 0))

    monkeypatch.setattr(store, "_sweep_entries", counting)
    for index in range(300):
        store.put(f"k{index}", index, 5)
    clock.advance(10)
    for index in range(300):
        store.put(f"n{index}", index, 5)
    assert len(looked) > 2  # writes swept more than once, without waiting for the timer
    # each sweep looks at no more than sweep_limit entries (plus the one it stops at)
    assert max(looked) <= 41
    assert {path.name for path in entries(store_dir)} == {
        hashlib.sha256(f"n{index}".encode()).hexdigest() for index in range(300)
    }


def test_sweep_removes_old_crash_leftovers_only(
    file_store: FileStore, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_store.put("k", 1, 60)
    old_tmp = store_dir / ".tmp-deadbeef"
    old_claim = store_dir / ".claim-deadbeef"
    fresh_tmp = store_dir / ".tmp-fresh"
    for path in (old_tmp, old_claim, fresh_tmp):
        path.write_bytes(b"x")
    # ctime cannot be set back; make "old" mean "any age" for one sweep instead.
    with monkeypatch.context() as patch:
        patch.setattr(file_module, "_LEFTOVER_AGE", -1.0)
        file_store.sweep()
    assert not old_tmp.exists() and not old_claim.exists() and not fresh_tmp.exists()
    fresh_tmp.write_bytes(b"x")
    file_store.sweep()
    assert fresh_tmp.exists()  # younger than ten minutes: maybe a write in progress
    assert file_store.get("k") == 1


def test_an_unusable_directory_raises_store_error_without_values(
    tmp_path: Path, cipher: StoreCipher
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = FileStore(blocker, cipher)
    with pytest.raises(StoreError) as caught:
        store.put(SECRET_KEY_NAME, SECRET_VALUE, 60)
    assert SECRET_VALUE not in str(caught.value) and "s3cr3t" not in str(caught.value)
    with pytest.raises(StoreError):
        store.get("k")


def test_repr_shows_the_directory_not_the_key(file_store: FileStore, store_dir: Path) -> None:
    assert repr(file_store) == f"FileStore({str(store_dir)!r})"
    assert derive_store_key("x").hex()[:8] not in repr(file_store)
