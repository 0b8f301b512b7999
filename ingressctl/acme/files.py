"""Atomic, private file writes: the one place that decides how ACME state reaches the disk."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ingressctl.model import ConfigError

PRIVATE_MODE = 0o600
BACKUP_SUFFIX = ".bak"
TEMP_SUFFIX = ".tmp"


def check_private(path: Path) -> None:
    """Refuse a file that group or others can read: it holds private keys (Traefik refuses it too)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        raise ConfigError(
            f"{path}: permissions {mode:03o} are too open for a file holding private keys; "
            f"run `chmod 600 {path}`"
        )


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete what a writer killed mid-write left next to `path` (`.NAME.*.tmp`); returns them.

    Called at start, before this process writes: the temporaries are never the file itself, only
    the half-written next version, which the rename never reached.
    """
    removed: list[Path] = []
    prefix = _temp_prefix(path)
    try:
        candidates = list(path.parent.iterdir())
    except FileNotFoundError:
        return removed
    for candidate in candidates:
        name = candidate.name
        if name.startswith(prefix) and name.endswith(TEMP_SUFFIX) and candidate.is_file():
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_MODE, *, keep_backup: bool = False) -> None:
    """Replace `path` with `data` so that a crash at any point leaves either the old or the new file.

    The temporary file lives in the same directory (a rename is only atomic within one file system),
    has a name no other writer can hold (a stale one from a killed writer never blocks a save: with
    names keyed by PID, PID 1 in a container would find its own leftover), is created with `mode`
    from the start (never briefly world-readable), and is fsynced before the rename; the directory is
    fsynced after it so the rename itself survives a power loss.
    With `keep_backup`, the version being replaced is first kept as NAME.bak (same mode), so an
    operator can go back after a bad release.
    """
    directory = path.parent
    if keep_backup:
        try:
            previous = path.read_bytes()
        except FileNotFoundError:
            previous = b""
        if previous.strip() and previous != data:
            _write_replace(backup_path(path), previous, mode)
    _write_replace(path, data, mode)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_replace(path: Path, data: bytes, mode: int) -> None:
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, mode)  # mkstemp makes 0600; public PEM files want 0644
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class LockedFile:
    """A small private file changed read-modify-write under an exclusive lock, replaced atomically.

    The same contract as storage.BlobStore (load_bytes / update / describe), so the rate-limit ledger
    lives in a file next to acme.json or in a Kubernetes Secret through one interface. The lock
    (`.NAME.lock`, flock) serialises writers on one machine: two processes sharing the file never lose
    each other's entries. Blocking: call it from a worker thread.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return str(self.path)

    def load_bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def update(self, change: Callable[[bytes | None], bytes], /) -> bytes:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = self.load_bytes()
            data = change(current)
            if data != current:
                atomic_write(self.path, data)
            return data
        finally:
            os.close(fd)  # releases the lock
