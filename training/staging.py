"""Publishing a served model's set of files (weights, OOD detector, figures, card) all or nothing.

The card is the set's single commit point. Every other file of a new set is written into a
hidden staging folder beside the served ones, then moved in under a name carrying its version
(``<name>.<version>.keras``, ``<name>.<version>.ood.npz``, ...), so the previous set's files are
never overwritten; only then does one ``os.replace`` swap the card. Until that rename the app
keeps serving the previous card and the files it names; after it, the new set is whole. The
previous set's files are removed last. A failure at any step removes what this publication
added; a kill (no cleanup possible) leaves only hidden staging folders and unreferenced versioned
files, which the next publication of that name removes before it starts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from core.serving import cards

log = logging.getLogger(__name__)

#: Tests set this to fail between steps; called with the name of the step about to run.
STEP_HOOK: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if STEP_HOOK is not None:
        STEP_HOOK(name)


def _versioned(name: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(name)}\.[0-9a-f]{{12}}\.")


def _referenced(card: dict | None) -> set[str]:
    """File names a card's set consists of (weights, OOD file, figures)."""
    if not card:
        return set()
    names = {card.get("keras_file")}
    names |= {(card.get("ood") or {}).get("file")}
    names |= set((card.get("plots") or {}).values())
    return {n for n in names if n}


def _current_card(card_path: Path) -> dict | None:
    try:
        return json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def clean_leftovers(folder: Path, name: str) -> list[Path]:
    """Remove what an interrupted publication of ``name`` left: staging folders, unreferenced versioned files.

    Returns:
        The paths removed.
    """
    removed = []
    if not folder.is_dir():
        return removed
    card_path = folder / f"{name}{cards.CARD_SUFFIX}"
    card = _current_card(card_path)
    keep = _referenced(card)
    # An unreadable card may still be repaired by hand: never delete the weights it might name.
    pattern = _versioned(name) if card is not None or not card_path.exists() else re.compile(r"(?!)")
    for path in folder.iterdir():
        if path.is_dir() and path.name.startswith(f".{name}.staging-"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        elif path.is_file() and pattern.match(path.name) and path.name not in keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class PublishSet:
    """Stage the files of one model, then commit them with its card.

    Use as a context manager: ``with PublishSet(folder, name) as stage: ...; stage.commit(card)``.
    Leaving the block without a commit (or by an exception) removes everything staged.
    """

    def __init__(self, folder: Path, name: str):
        self.folder, self.name = Path(folder), name
        self.staging: Path | None = None
        #: Names every file of this publication; random, so a republication never reuses a served file's name.
        self.version = secrets.token_hex(6)
        self._moved: list[Path] = []
        self.committed = False

    def __enter__(self) -> PublishSet:
        self.folder.mkdir(parents=True, exist_ok=True)
        clean_leftovers(self.folder, self.name)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.name}.staging-", dir=self.folder))
        return self

    def path(self, suffix: str) -> Path:
        """Where to write one file of the set while staging, e.g. ``path("ood.npz")``."""
        return self.staging / f"{self.name}.{suffix}"

    def final_name(self, suffix: str) -> str:
        """The served file name of one staged file, e.g. ``<name>.<version>.keras``."""
        return f"{self.name}.{self.version}.{suffix}"

    def place(self, staged: Path) -> str:
        """Move a staged file in beside the served ones under its versioned name; returns that name."""
        _step(f"place {staged.name}")
        target = self.folder / self.final_name(staged.name.removeprefix(f"{self.name}."))
        os.chmod(staged, 0o644)
        os.replace(staged, target)
        self._moved.append(target)
        return target.name

    def commit(self, card: dict) -> Path:
        """Swap the card (the one atomic step), then drop the previous set's files.

        Args:
            card: the new card, naming the placed files.

        Returns:
            The card's path.
        """
        card_path = self.folder / f"{self.name}{cards.CARD_SUFFIX}"
        previous = _referenced(_current_card(card_path))
        _step("write card")
        staged_card = cards.write_card(card, self.staging / card_path.name)
        _step("swap card")
        os.replace(staged_card, card_path)
        self.committed = True
        _step("remove previous set")
        for old in previous - _referenced(card):
            (self.folder / old).unlink(missing_ok=True)
        return card_path

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            for moved in self._moved:
                moved.unlink(missing_ok=True)
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
