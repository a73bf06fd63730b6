"""The served-model folder: which cards exist, which are usable, which one to serve.

``core.serving.served`` loads what this module selects. Listing reads only the small JSON cards
(never the weights), so the app's model page stays fast; the sha256 of a ``.keras`` file is
checked when it is loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core import paths
from core.serving.cards import CARD_SUFFIX, CardError, read_card, validate_card
from core.serving.errors import ModelCardError, ModelNotFoundError
from core.tasks import TASKS, get_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardProblem:
    """A card that was skipped, and why.

    Attributes:
        path: the ``.card.json`` file.
        task_id: the task folder it was found in.
        name: the model name taken from the file name.
        problems: what is wrong, in words a researcher can fix.
    """

    path: Path
    task_id: str
    name: str
    problems: tuple[str, ...]


def _root(models_dir: str | Path | None) -> Path:
    # Read at call time so a relocated MODELS_DIR (tests, deployments) is honoured.
    return Path(models_dir) if models_dir is not None else paths.MODELS_DIR


def _card_problems(card_path: Path, task_id: str) -> tuple[dict | None, list[str]]:
    try:
        card = read_card(card_path, validate=False)
    except CardError as exc:
        return None, [str(exc)]
    problems = validate_card(card)
    if problems:
        return None, problems
    stem = card_path.name.removesuffix(CARD_SUFFIX)
    if card["task_id"] != task_id:
        problems.append(f"the card is for task '{card['task_id']}' but sits in the folder of '{task_id}'.")
    if card["name"] != stem:
        problems.append(f"the card's name '{card['name']}' differs from its file name '{stem}'.")
    if not (card_path.parent / card["keras_file"]).is_file():
        problems.append(f"{card['keras_file']} is missing; put the .keras file beside its card.")
    return (None if problems else card), problems


def _sort_key(card: dict) -> tuple:
    # Task order, then the default first, then the most accurate, then by name for stability.
    return (list(TASKS).index(card["task_id"]), not card["default"], -card["test_metrics"]["accuracy"], card["name"])


def scan_models(task_id: str | None = None, models_dir: str | Path | None = None
                ) -> tuple[list[dict], list[CardProblem]]:
    """Read every card of one task (or all tasks).

    Args:
        task_id: restrict to this task; None scans every registered task.
        models_dir: root holding ``<task_id>/`` folders; defaults to ``core.paths.MODELS_DIR``.

    Returns:
        ``(valid cards sorted best first, skipped cards with their problems)``.
    """
    task_ids = [get_task(task_id).id] if task_id is not None else list(TASKS)
    root = _root(models_dir)
    cards, skipped = [], []
    for tid in task_ids:
        folder = root / tid
        if not folder.is_dir():
            continue
        for card_path in sorted(folder.glob(f"*{CARD_SUFFIX}")):
            card, problems = _card_problems(card_path, tid)
            if card is not None:
                cards.append(card)
                continue
            logger.warning("Skipping model card %s: %s", card_path, " ".join(problems))
            skipped.append(CardProblem(card_path, tid, card_path.name.removesuffix(CARD_SUFFIX), tuple(problems)))
    return sorted(cards, key=_sort_key), skipped


def list_models(task_id: str | None = None, models_dir: str | Path | None = None) -> list[dict]:
    """Valid model cards, best first per task (invalid ones are skipped with a logged warning).

    Args:
        task_id: restrict to this task; None lists every task.
        models_dir: root holding ``<task_id>/`` folders; defaults to ``core.paths.MODELS_DIR``.

    Returns:
        The parsed cards.
    """
    return scan_models(task_id, models_dir)[0]


def list_model_problems(task_id: str | None = None, models_dir: str | Path | None = None) -> list[CardProblem]:
    """The cards :func:`list_models` skipped, with why, so the app can show them.

    Args:
        task_id: restrict to this task; None lists every task.
        models_dir: root holding ``<task_id>/`` folders; defaults to ``core.paths.MODELS_DIR``.

    Returns:
        One CardProblem per skipped card.
    """
    return scan_models(task_id, models_dir)[1]


def select_card(task_id: str, name: str | None = None, models_dir: str | Path | None = None) -> dict:
    """The card to serve: by name, else the one marked default, else the best test accuracy.

    Args:
        task_id: the task.
        name: model name, or None for the default choice.
        models_dir: root holding ``<task_id>/`` folders; defaults to ``core.paths.MODELS_DIR``.

    Returns:
        The chosen (valid) card.

    Raises:
        ModelNotFoundError: no usable model (the message says where to put one).
        ModelCardError: the named model exists but its card was rejected.
    """
    task = get_task(task_id)
    folder = _root(models_dir) / task.id
    cards, skipped = scan_models(task.id, models_dir)
    if name is not None:
        for card in cards:
            if card["name"] == name:
                return card
        for problem in skipped:
            if problem.name == name:
                raise ModelCardError(f"Model card {problem.path.name} cannot be used: " + " ".join(problem.problems))
        available = ", ".join(c["name"] for c in cards) or "none"
        raise ModelNotFoundError(f"There is no model named '{name}' for {task.display_name} in {folder} "
                                 f"(available: {available}).")
    if not cards:
        rejected = "".join(f" {p.path.name} was rejected: {' '.join(p.problems)}" for p in skipped)
        raise ModelNotFoundError(
            f"No usable model for {task.display_name} ('{task.id}'). Put a trained <name>.keras and its "
            f"<name>{CARD_SUFFIX} in {folder}.{rejected}"
        )
    defaults = [c for c in cards if c["default"]]
    if len(defaults) > 1:
        logger.warning("Several models of task %s are marked default (%s); serving the most accurate.",
                       task.id, ", ".join(c["name"] for c in defaults))
    return (defaults or cards)[0]
