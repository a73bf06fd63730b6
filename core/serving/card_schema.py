"""The classifier card's schema: its required keys and every invariant, as sentences a researcher can fix.

:func:`validate_card` is the one judge of a card; ``core.serving.cards`` reads, builds and writes
through it and ``core.serving.store`` skips cards it rejects.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from core.serving.conformal import check_section as check_conformal
from core.tasks import TASKS

SCHEMA_VERSION = 1

#: Every card has these keys (``ood`` may be None: no detector).
REQUIRED_KEYS = (
    "schema_version", "task_id", "name", "class_names", "input_shape", "preprocessing", "architecture",
    "backbone", "training_data", "split_sizes", "test_metrics", "calibration", "uncertainty_threshold",
    "ood", "latency_ms", "params", "flops", "keras_file", "sha256", "library_versions", "created",
    "command", "default",
)

#: Sections a card may carry beyond the required keys (each optional; ``conformal`` is checked when present).
OPTIONAL_SECTIONS = ("conformal", "explanations", "plots", "training_run", "recalibration", "quality",
                     "duplicates", "data_digest")

TRAINING_DATA_KINDS = ("real", "synthetic-phantoms")
DEFAULT_UNCERTAINTY_THRESHOLD = 0.6

# A model name becomes a file name; keep it portable.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_identity(card: dict) -> list[str]:
    problems = []
    if card["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version {card['schema_version']!r} is not supported "
                        f"(this app reads {SCHEMA_VERSION}).")
    if not isinstance(card["name"], str) or not _NAME_RE.match(card["name"]):
        problems.append(f"name {card['name']!r} must be letters, digits, '.', '_' or '-' (it is a file name).")
    task = TASKS.get(card["task_id"]) if isinstance(card["task_id"], str) else None
    if task is None:
        return problems + [f"task_id {card['task_id']!r} is not a known task ({', '.join(TASKS)})."]
    if card["class_names"] != list(task.classes):
        problems.append(
            f"class_names {card['class_names']!r} do not match the output order of task '{task.id}' "
            f"{list(task.classes)!r}; predictions would be reported under the wrong class."
        )
    prep = card["preprocessing"]
    if isinstance(prep, dict) and prep.get("id") != task.preprocessing:
        # Serving runs the task's recipe; a model trained on other inputs would be fed the wrong images.
        problems.append(f"preprocessing id {prep.get('id')!r} is not the recipe of task '{task.id}' "
                        f"({task.preprocessing!r}), which is what the app applies.")
    shape = card["input_shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v > 0 for v in shape)
            and shape[2] == task.channels):
        problems.append(f"input_shape {shape!r} must be [height, width, {task.channels}] with positive integers.")
    return problems


def _check_sections(card: dict) -> list[str]:
    problems = []
    prep = card["preprocessing"]
    if not (isinstance(prep, dict) and isinstance(prep.get("id"), str) and isinstance(prep.get("params", {}), dict)):
        problems.append("preprocessing must be {'id': <recipe id>, 'params': {...}}.")
    data = card["training_data"]
    if not isinstance(data, dict) or data.get("kind") not in TRAINING_DATA_KINDS or not data.get("dataset"):
        problems.append(f"training_data needs 'dataset' and 'kind' (one of {', '.join(TRAINING_DATA_KINDS)}).")
    elif data["kind"] == "synthetic-phantoms" and ("generator_version" not in data or "seed" not in data):
        problems.append("training_data of kind 'synthetic-phantoms' needs 'generator_version' and 'seed'.")
    calib = card["calibration"]
    if not (isinstance(calib, dict) and _is_number(calib.get("temperature")) and calib["temperature"] > 0):
        problems.append("calibration needs a positive 'temperature' (1.0 for an uncalibrated model).")
    threshold = card["uncertainty_threshold"]
    if not (_is_number(threshold) and 0 <= threshold <= 1):
        problems.append(f"uncertainty_threshold {threshold!r} must be a probability between 0 and 1.")
    metrics = card["test_metrics"]
    if not (isinstance(metrics, dict) and _is_number(metrics.get("accuracy")) and 0 <= metrics["accuracy"] <= 1):
        problems.append("test_metrics must be a metrics report with an 'accuracy' between 0 and 1.")
    problems += check_conformal(card.get("conformal"))
    ood = card["ood"]
    if ood is not None and not (isinstance(ood, dict) and _is_number(ood.get("threshold"))):
        problems.append("ood must be null or a detector section with a numeric 'threshold'.")
    elif isinstance(ood, dict) and "file" in ood and not _SHA_RE.match(str(ood.get("sha256", ""))):
        problems.append("ood names a detector 'file' but no valid 'sha256' to check it against.")
    return problems


def _check_provenance(card: dict) -> list[str]:
    problems = []
    keras_file = card["keras_file"]
    if not (isinstance(keras_file, str) and keras_file.endswith(".keras") and Path(keras_file).name == keras_file):
        problems.append(f"keras_file {keras_file!r} must be a bare '<name>.keras' file name beside the card.")
    if not (isinstance(card["sha256"], str) and _SHA_RE.match(card["sha256"])):
        problems.append("sha256 must be the 64-character lowercase hex digest of the .keras file.")
    versions = card["library_versions"]
    if not (isinstance(versions, dict) and {"python", "tensorflow", "keras", "numpy"} <= versions.keys()):
        problems.append("library_versions needs python, tensorflow, keras and numpy.")
    if not isinstance(card["default"], bool):
        problems.append(f"default must be true or false, got {card['default']!r}.")
    if not (isinstance(card["params"], int) and card["params"] > 0):
        problems.append("params must be the model's positive parameter count.")
    if card["flops"] is not None and not _is_number(card["flops"]):
        problems.append("flops must be a number or null.")
    latency = card["latency_ms"]
    if latency is not None and not _is_number(latency) and not isinstance(latency, dict):
        problems.append("latency_ms must be a latency summary, a number of milliseconds, or null.")
    if not isinstance(card["split_sizes"], dict):
        problems.append("split_sizes must map split name -> number of images.")
    if not isinstance(card["command"], str) or not card["command"]:
        problems.append("command must be the exact command line that produced the model.")
    try:
        datetime.fromisoformat(str(card["created"]))
    except ValueError:
        problems.append(f"created {card['created']!r} is not an ISO 8601 date.")
    return problems


#: Checks run in order on a card that has every required key.
_CHECKS: tuple[Callable[[dict], list[str]], ...] = (_check_identity, _check_sections, _check_provenance)


def validate_card(card: Any) -> list[str]:
    """Every problem of a card, in words a researcher can fix; empty when the card is valid.

    Args:
        card: a parsed card.

    Returns:
        Problems (missing keys first; the other checks run only when no key is missing).
    """
    if not isinstance(card, dict):
        return ["The model card is not a JSON object."]
    missing = [k for k in REQUIRED_KEYS if k not in card]
    if missing:
        return [f"missing key{'s' if len(missing) > 1 else ''}: {', '.join(missing)}."]
    return [problem for check in _CHECKS for problem in check(card)]


