"""What every card records about where an artefact came from: digests, library versions, portable paths.

Shared by the classifier card (``core.serving.cards``) and the generator card
(``core.serving.gan_cards``). No card may hold an absolute machine path: :func:`absolute_paths`
finds them before a card is written, and :func:`relativise_paths` migrates cards written before
that rule (paths under the project become project-relative, others keep only their file name).
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from core import paths
from core.digest import sha256_file  # noqa: F401  (re-exported: cards record it)

#: A string that starts like an absolute path on POSIX or Windows.
_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:[\\/]|\\\\)")


def _installed_version(*distributions: str) -> str | None:
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries a ``.keras`` file depends on, without importing TensorFlow."""
    return {
        "python": platform.python_version(),
        "tensorflow": _installed_version("tensorflow", "tensorflow-cpu", "tensorflow-gpu"),
        "keras": _installed_version("keras"),
        "numpy": _installed_version("numpy"),
    }


def portable_path(value: str | Path) -> str:
    """A path as a card may hold it: ``$MEDIMG_DATA/...``, relative to the project, or just its name.

    Cards travel between machines, so they never hold an absolute path of the machine that trained.
    """
    resolved = Path(value).expanduser().resolve()
    for base, prefix in ((paths.REAL_DATA_DIR, "$MEDIMG_DATA"), (paths.REPO_ROOT, None)):
        try:
            relative = resolved.relative_to(Path(base).resolve())
        except (ValueError, OSError):
            continue
        return f"{prefix}/{relative.as_posix()}" if prefix else (relative.as_posix() or ".")
    return resolved.name if Path(value).is_absolute() else Path(value).as_posix()


def command_line(argv: list[str] | None = None) -> str:
    """This process's command line with paths made portable (the card's ``command``)."""
    args = [portable_path(a) if _ABSOLUTE.match(a) else a for a in (sys.argv if argv is None else argv)]
    return shlex.join([Path(sys.executable).name, *args])


def absolute_paths(value: Any, where: str = "") -> list[str]:
    """Where a card (any JSON value) holds an absolute path, as ``key.sub.key`` locations."""
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in absolute_paths(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in absolute_paths(v, f"{where}[{i}]")]
    if isinstance(value, str) and (_ABSOLUTE.match(value) or any(_ABSOLUTE.match(w) for w in value.split()[1:])):
        return [where or "(card)"]
    return []


def relativise_paths(value: Any) -> Any:
    """The same JSON value with every absolute path made portable (migration of older cards)."""
    if isinstance(value, dict):
        return {k: relativise_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [relativise_paths(v) for v in value]
    if isinstance(value, str) and _ABSOLUTE.match(value):
        return portable_path(value)
    if isinstance(value, str) and " " in value and any(_ABSOLUTE.match(w) for w in value.split()):
        return " ".join(portable_path(w) if _ABSOLUTE.match(w) else w for w in value.split(" "))
    return value
