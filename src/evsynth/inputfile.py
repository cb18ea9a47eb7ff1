"""Read a file a user named (a sheet, a workbook, a codebook) without trusting what it is.

A config entry or a symlink can point anywhere: at a named pipe (reading never ends), at
``/dev/zero`` (reading never ends and fills memory) or at a file far bigger than any review.
Only regular files are read, and never more than a stated number of bytes; anything else is
refused with a message that names the file and never shows its content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_MiB = 2**20


class RefusedFile(Exception):
    """A file that is not read at all; ``rule`` and ``message`` become the finding."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def size_text(n_bytes: int) -> str:
    return f"{n_bytes / _MiB:,.0f} MiB" if n_bytes >= _MiB else f"{n_bytes:,} bytes"


def read_limited(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit`` of them.

    Raises :class:`RefusedFile` for a missing or unreadable file, anything that is not a
    regular file, and a file larger than ``limit``. The file is opened without blocking, so a
    named pipe is refused at once instead of waiting for a writer.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise RefusedFile("file_missing", f"{path}: file not found") from None
    except OSError as exc:  # no permission, a socket, a dangling or looping symlink, ...
        raise RefusedFile(
            "file_unreadable", f"{path}: cannot be read ({exc.strerror or exc})"
        ) from None
    # fstat on the open file, not stat on the name: what is read is what was checked.
    mode = os.fstat(descriptor)
    if not stat.S_ISREG(mode.st_mode):
        os.close(descriptor)
        raise RefusedFile(
            "file_unreadable",
            f"{path}: is {_kind(mode.st_mode)}, not a regular file; point the "
            f"config at the {what} itself",
        )
    if mode.st_size > limit:
        os.close(descriptor)
        raise RefusedFile("file_too_large", _too_large(path, what, mode.st_size, limit))
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        chunks, total = [], 0
        while total <= limit:  # a file may grow while it is read: stop past the limit anyway
            chunk = handle.read(min(limit + 1 - total, 8 * _MiB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    if total > limit:
        raise RefusedFile("file_too_large", _too_large(path, what, total, limit))
    return b"".join(chunks)


def _too_large(path: Path, what: str, size: int, limit: int) -> str:
    return (
        f"{path}: the file is {size_text(size)}, more than the {size_text(limit)} a {what} "
        "may be; is it the right file?"
    )
