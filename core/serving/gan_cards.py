"""The generator card: one JSON beside each served DCGAN generator (``models/<task>/gan/<class>.keras``).

Typed like the classifier card: :class:`GeneratorCard` checks its invariants when read and when
written (known task and class, a bare ``.keras`` file name with its sha256, a positive image size,
1 or 3 channels, no absolute machine path). Sections such as ``quality`` or ``training_run`` are
kept as they are, in ``sections``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.serving.cards import CardError
from core.serving.provenance import absolute_paths, relativise_paths
from core.tasks import TASKS

KIND = "dcgan-generator"
#: Versions this reader accepts; 2 added the held-out quality protocol (same required keys).
GENERATOR_SCHEMA_VERSIONS = (1, 2)
GENERATOR_SCHEMA_VERSION = 2
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

#: Keys every generator card has.
GENERATOR_KEYS = ("kind", "schema_version", "task_id", "class_id", "name", "image_size", "channels", "latent_dim",
                  "keras_file", "sha256", "training_data", "command", "library_versions", "created")


def validate_generator_card(card: Any) -> list[str]:
    """Every problem of a generator card; empty when valid."""
    if not isinstance(card, dict):
        return ["The generator card is not a JSON object."]
    missing = [k for k in GENERATOR_KEYS if k not in card]
    if missing:
        return [f"missing keys: {', '.join(missing)}."]
    problems = []
    if card["kind"] != KIND or card["schema_version"] not in GENERATOR_SCHEMA_VERSIONS:
        problems.append(f"kind must be '{KIND}' and schema_version one of {GENERATOR_SCHEMA_VERSIONS}.")
    task = TASKS.get(card["task_id"]) if isinstance(card["task_id"], str) else None
    if task is None:
        problems.append(f"task_id {card['task_id']!r} is not a known task.")
    elif card["class_id"] not in task.classes:
        problems.append(f"class_id {card['class_id']!r} is not a class of task '{task.id}'.")
    keras_file = card["keras_file"]
    if not (isinstance(keras_file, str) and keras_file.endswith(".keras") and Path(keras_file).name == keras_file):
        problems.append(f"keras_file {keras_file!r} must be a bare '<name>.keras' file name beside the card.")
    if not (isinstance(card["sha256"], str) and _SHA_RE.match(card["sha256"])):
        problems.append("sha256 must be the 64-character lowercase hex digest of the generator file.")
    for key in ("image_size", "latent_dim"):
        if not (isinstance(card[key], int) and card[key] > 0):
            problems.append(f"{key} must be a positive whole number.")
    if card["channels"] not in (1, 3):
        problems.append("channels must be 1 or 3.")
    return problems


@dataclass(frozen=True)
class GeneratorCard:
    """A generator's card as a typed value (see the module docstring for its invariants)."""

    task_id: str
    class_id: str
    name: str
    image_size: int
    channels: int
    latent_dim: int
    keras_file: str
    sha256: str
    training_data: dict
    command: str
    library_versions: dict
    created: str
    kind: str = KIND
    schema_version: int = GENERATOR_SCHEMA_VERSION
    sections: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict | str) -> GeneratorCard:
        """Parse, migrate (absolute paths made portable) and check a generator card.

        Raises:
            CardError: listing every problem.
        """
        try:
            card = relativise_paths(json.loads(data) if isinstance(data, str) else dict(data))
        except (TypeError, ValueError) as exc:
            raise CardError(f"The generator card is not JSON: {exc}") from None
        problems = validate_generator_card(card)
        if problems:
            raise CardError("Invalid generator card:\n- " + "\n- ".join(problems))
        return cls(**{k: card[k] for k in GENERATOR_KEYS},
                   sections={k: v for k, v in card.items() if k not in GENERATOR_KEYS})

    def to_json(self) -> dict:
        """The card as written beside the generator (checked first; no absolute paths).

        Raises:
            CardError: an invariant does not hold.
        """
        card = {k: getattr(self, k) for k in GENERATOR_KEYS} | self.sections
        problems = validate_generator_card(card) + [f"absolute path at {w}" for w in absolute_paths(card)]
        if problems:
            raise CardError("Invalid generator card:\n- " + "\n- ".join(problems))
        return card

    @classmethod
    def read(cls, path: str | Path) -> GeneratorCard:
        """Read ``<class>.card.json`` beside a generator.

        Raises:
            CardError: missing, not JSON, or invalid.
        """
        path = Path(path)
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CardError(f"Generator card {path.name} cannot be read ({type(exc).__name__}).") from None

    def write(self, path: str | Path) -> Path:
        """Write atomically (temporary file + rename)."""
        card = self.to_json()
        with atomic_write(Path(path), "w") as fh:
            json.dump(card, fh, indent=2, allow_nan=False)
            fh.write("\n")
        return Path(path)
