"""The model card: one JSON beside each served ``.keras`` that says what the model is.

It is enough to rebuild and serve the model (task, class order, input shape, preprocessing,
calibration, uncertainty threshold, optional OOD detector) and to judge it (training data,
split sizes, test metrics, latency, provenance). The app refuses a model whose card is
invalid or whose ``.keras`` does not match the card's sha256.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.serving.card_schema import (
    DEFAULT_UNCERTAINTY_THRESHOLD,
    OPTIONAL_SECTIONS,
    REQUIRED_KEYS,
    SCHEMA_VERSION,
    TRAINING_DATA_KINDS,
    validate_card,
)
from core.serving.provenance import absolute_paths, command_line, library_versions, relativise_paths, sha256_file

__all__ = [
    "CARD_SUFFIX", "DEFAULT_UNCERTAINTY_THRESHOLD", "OPTIONAL_SECTIONS", "REQUIRED_KEYS", "SCHEMA_VERSION",
    "TRAINING_DATA_KINDS", "CardError", "ClassifierCard", "build_card", "card_path_for", "library_versions",
    "read_card", "sha256_file", "validate_card", "write_card",
]

CARD_SUFFIX = ".card.json"


class CardError(ValueError):
    """A model card that is missing, unreadable or invalid; the message lists the problems."""


def card_path_for(keras_path: str | Path) -> Path:
    """``<task>/<name>.keras`` or a published ``<task>/<name>.<version>.keras`` -> ``<task>/<name>.card.json``."""
    keras_path = Path(keras_path)
    name = re.sub(r"\.[0-9a-f]{12}$", "", keras_path.name.removesuffix(".keras"))  # see training.staging
    return keras_path.with_name(name + CARD_SUFFIX)


def build_card(**fields: Any) -> dict:
    """Assemble a model card, filling provenance defaults, and validate it.

    Args:
        **fields: the keys of :data:`REQUIRED_KEYS`. Defaults: ``schema_version``, ``created``
            (now, UTC, ISO 8601), ``library_versions`` (installed), ``command`` (this process's
            command line), ``default`` (False), ``ood`` (None), ``uncertainty_threshold`` (0.6),
            ``flops`` (None).

    Returns:
        A JSON-serialisable dict.

    Raises:
        CardError: listing every problem (missing keys, class order not the task's, ...).
    """
    card = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_versions": library_versions(),
        "command": command_line(),
        "default": False,
        "ood": None,
        "uncertainty_threshold": DEFAULT_UNCERTAINTY_THRESHOLD,
        "flops": None,
    }
    card.update(fields)
    try:
        # Round-trip so tuples become lists and numpy scalars fail here, not at write time.
        card = relativise_paths(json.loads(json.dumps(card, allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise CardError(f"The model card is not plain JSON data: {exc}") from None
    problems = validate_card(card)
    if problems:
        raise CardError("Invalid model card:\n- " + "\n- ".join(problems))
    return card


def write_card(card: dict, path: str | Path) -> Path:
    """Validate and write a card as JSON, atomically (temporary file + rename).

    Args:
        card: a card from :func:`build_card`.
        path: destination, by convention ``<name>.card.json`` beside ``<name>.keras``.

    Returns:
        The written path.

    Raises:
        CardError: the card is invalid; nothing is written.
    """
    problems = validate_card(card)
    if problems:
        raise CardError(f"Refusing to write an invalid model card to {Path(path).name}:\n- " + "\n- ".join(problems))
    absolute = absolute_paths(card)
    if absolute:
        raise CardError(f"Refusing to write model card {Path(path).name}: it holds absolute machine paths at "
                        f"{', '.join(absolute)}; record paths relative to the project or $MEDIMG_DATA.")
    path = Path(path)
    with atomic_write(path, "w") as fh:
        json.dump(card, fh, indent=2, allow_nan=False)
        fh.write("\n")
    return path


def read_card(path: str | Path, validate: bool = True) -> dict:
    """Read a card from disk.

    Args:
        path: the ``.card.json`` file.
        validate: raise when the card has problems (pass False to inspect a broken card).

    Returns:
        The parsed card.

    Raises:
        CardError: the file is missing, not JSON, or (with ``validate``) invalid.
    """
    path = Path(path)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CardError(f"Model card {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"Model card {path.name} cannot be read as JSON: {exc}") from None
    # Migration: cards written before the no-absolute-paths rule kept the training machine's run paths.
    card = relativise_paths(card)
    if validate:
        problems = validate_card(card)
        if problems:
            raise CardError(f"Model card {path.name} is invalid:\n- " + "\n- ".join(problems))
    return card


@dataclass(frozen=True)
class ClassifierCard:
    """A classifier's card as a typed value: the required keys as fields, optional sections in ``sections``.

    Invariants (those of :func:`validate_card`, plus no absolute path) are checked by :meth:`from_json`
    and :meth:`to_json`, so a ``ClassifierCard`` in hand is always servable.
    """

    task_id: str
    name: str
    class_names: tuple[str, ...]
    input_shape: tuple[int, int, int]
    preprocessing: dict
    architecture: str
    backbone: str | None
    training_data: dict
    split_sizes: dict
    test_metrics: dict
    calibration: dict
    uncertainty_threshold: float
    ood: dict | None
    latency_ms: Any
    params: int
    flops: float | None
    keras_file: str
    sha256: str
    library_versions: dict
    created: str
    command: str
    default: bool
    schema_version: int = SCHEMA_VERSION
    sections: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict | str) -> ClassifierCard:
        """Parse, migrate and check a card (a dict or its JSON text).

        Raises:
            CardError: listing every problem.
        """
        try:
            card = relativise_paths(json.loads(data) if isinstance(data, str) else dict(data))
        except (TypeError, ValueError) as exc:
            raise CardError(f"The model card is not JSON: {exc}") from None
        problems = validate_card(card)
        if problems:
            raise CardError("Invalid model card:\n- " + "\n- ".join(problems))
        required = {k: card[k] for k in REQUIRED_KEYS}
        required["class_names"], required["input_shape"] = tuple(card["class_names"]), tuple(card["input_shape"])
        return cls(**required, sections={k: v for k, v in card.items() if k not in REQUIRED_KEYS})

    def to_json(self) -> dict:
        """The card as the JSON object written beside the weights (checked first).

        Raises:
            CardError: an invariant does not hold, or an absolute path is present.
        """
        card = {k: getattr(self, k) for k in REQUIRED_KEYS}
        card["class_names"], card["input_shape"] = list(self.class_names), list(self.input_shape)
        card.update(self.sections)
        problems = validate_card(card) + [f"absolute path at {w}" for w in absolute_paths(card)]
        if problems:
            raise CardError("Invalid model card:\n- " + "\n- ".join(problems))
        return card

    @classmethod
    def read(cls, path: str | Path) -> ClassifierCard:
        """Read a ``.card.json`` (see :meth:`from_json`)."""
        return cls.from_json(read_card(path, validate=False))

    def write(self, path: str | Path) -> Path:
        """Write atomically (see :func:`write_card`)."""
        return write_card(self.to_json(), path)
