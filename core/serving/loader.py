"""One checked loader per artefact kind: classifier weights, out-of-distribution detector, generator.

Each loader checks the file's sha256 against its card before anything parses it, loads Keras
files with ``safe_mode=True`` (no arbitrary code) after registering the project's layers, and
refuses with :class:`core.serving.errors.ModelIntegrityError` and the integrity sentence.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path
from typing import Any, Mapping

from core.serving.cards import sha256_file
from core.serving.errors import ModelIntegrityError, integrity_error

#: Modules whose import registers the project's serialisable layers, which safe_mode loading needs.
LAYER_MODULES = ("core.models", "core.models.layers")


def register_custom_layers() -> None:
    """Import the modules that register the project's serialisable Keras layers."""
    for module in LAYER_MODULES:
        importlib.import_module(module)


def check_sha256(path: Path, sha256: str | None, what: str) -> None:
    """Refuse a file that is missing or whose digest differs from its card.

    Args:
        path: the file.
        sha256: the digest the card records; None is refused too (every artefact is checked).
        what: the file and its role, for the sentence.

    Raises:
        ModelIntegrityError: missing file, no digest, or a different digest.
    """
    if not path.is_file():
        raise ModelIntegrityError(f"{what} is missing; put it back beside its card or publish the model again.")
    if not sha256:
        raise integrity_error(what, "the card records no sha256 for it")
    if sha256_file(path) != sha256:
        raise integrity_error(what)


def load_keras_checked(path: str | Path, sha256: str | None, role: str = "weights") -> Any:
    """Load a ``.keras`` file after its sha256 check, in safe mode, with the project's layers registered.

    Args:
        path: the ``.keras`` file.
        sha256: the digest its card records.
        role: what the file is, for messages ("weights", "generator", ...).

    Returns:
        The keras.Model (not compiled).

    Raises:
        ModelIntegrityError: with the integrity sentence.
    """
    import keras

    path = Path(path)
    what = f"The {role} file {path.name}"
    check_sha256(path, sha256, what)
    register_custom_layers()
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive; all mean "cannot serve this file"
        raise integrity_error(what, f"it cannot be loaded safely: {type(exc).__name__}") from exc


def load_ood_checked(folder: Path, section: Mapping) -> Any:
    """Load the out-of-distribution detector a card's ``ood`` section names, checked.

    Args:
        folder: the card's folder.
        section: the card's ``ood`` section (``file``, ``sha256``, ``threshold``).

    Returns:
        The ``core.serving.ood.OODDetector``.

    Raises:
        ModelIntegrityError: missing, modified or unreadable file, or a non-finite threshold.
    """
    from core.serving.ood import load_detector

    name = str(section.get("file", ""))
    what = f"The out-of-distribution detector file {name or '(none named)'}"
    if not name or Path(name).name != name:
        raise integrity_error(what, "the card must name a file beside it")
    check_sha256(folder / name, section.get("sha256"), what)
    try:
        detector = load_detector(folder / name, sha256=None)
    except Exception as exc:  # noqa: BLE001  zip, numpy and key errors alike mean a damaged file
        raise integrity_error(what, f"it cannot be read: {type(exc).__name__}") from None
    if hasattr(detector, "thresholds"):  # the modality guard lists its own
        thresholds = [*detector.thresholds, section.get("threshold", 1.0)]
    else:
        thresholds = [detector.threshold, detector.features.threshold]
        thresholds += [detector.inputs.threshold] if detector.inputs is not None else []
        thresholds += [section.get("threshold", 1.0)]
    if not all(isinstance(t, (int, float)) and math.isfinite(t) and t > 0 for t in thresholds):
        # A NaN threshold would silently switch the guard off: every comparison with NaN is False.
        raise integrity_error(what, "its thresholds are not finite positive numbers")
    return detector


def load_generator_checked(path: str | Path, sha256: str | None = None) -> Any:
    """Load a DCGAN generator after its sha256 check, in safe mode.

    Args:
        path: the generator's ``.keras`` file, or its ``.card.json`` (then the card gives file and digest).
        sha256: the digest its card records (read from the card when ``path`` is the card).

    Returns:
        The keras.Model.

    Raises:
        ModelIntegrityError: with the integrity sentence (an invalid card included).
    """
    from core.serving.cards import CardError
    from core.serving.gan_cards import GeneratorCard

    path = Path(path)
    if path.name.endswith(".card.json"):
        try:
            card = GeneratorCard.read(path)
        except CardError as exc:
            raise integrity_error(f"The generator card {path.name}", str(exc).splitlines()[0]) from None
        path, sha256 = path.parent / card.keras_file, card.sha256
    return load_keras_checked(path, sha256, role="generator")
