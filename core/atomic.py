"""Files appear whole or not at all: write to a temporary name beside the target, then rename.

Every writer of a file someone else reads (the app, a report, a dataset) goes through
:func:`atomic_write`, so a crash or a kill never leaves half a file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path``, on error it vanishes.

    Args:
        path: the file to (re)write; its folder is created.
        mode: ``"wb"`` or ``"w"``.
        encoding: text encoding for ``"w"`` (default UTF-8).

    Yields:
        The open temporary file. The result is readable by everyone (0644): mkstemp's
        private 0600 would hide models and reports from an app running as another user.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding or ("utf-8" if "b" not in mode else None)) as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
