"""Atomic, private file writes: the one place that decides how ACME state reaches the disk."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ingressctl.model import ConfigError

PRIVATE_MODE = 0o600


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


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_MODE) -> None:
    """Replace `path` with `data` so that a crash at any point leaves either the old or the new file.

    The temporary file lives in the same directory (a rename is only atomic within one file system),
    is created with `mode` from the start (never briefly world-readable), and is fsynced before the
    rename; the directory is fsynced after it so the rename itself survives a power loss.
    """
    directory = path.parent
    tmp = directory / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed or the file may be stale
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
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
