"""What the pages need from serving: the session's defaults, the models on offer, analysis of one file.

Nothing here touches Streamlit: the pages wrap :func:`load_served_model` in ``st.cache_resource``
(one cache, keyed by this function, shared by every page and session).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, Callable, Hashable, MutableMapping

from core import paths
from core.app_support.verdicts import FileResult
from core.tasks import TASKS, get_task

#: Labels of the explanation methods, keyed like ``core.explain.CAM_METHODS``.
CAM_LABELS: dict[str, str] = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "scorecam": "ScoreCAM"}

#: Per-session memo of analyses and heatmaps; bounded so a long session does not hoard images.
MEMO_SIZE = 32


def session_defaults() -> dict[str, Any]:
    """Session-state keys every page relies on, with their initial values (set once per session)."""
    return {"task_id": next(iter(TASKS)), "model_name": None, "memo": {}}


def model_names(task_id: str) -> list[str]:
    """Names of the valid served models of a task, the one served by default first; empty when none."""
    from core.inference import list_models

    return [c["name"] for c in list_models(task_id)]  # already default-first, then most accurate


def card_of(task_id: str, name: str | None) -> dict | None:
    """The card of one served model (None when the task has no such model)."""
    from core.inference import list_models

    return next((c for c in list_models(task_id) if c["name"] == name), None)


def served_model_args(task_id: str, name: str | None) -> tuple[str, str | None, str, str | None]:
    """Arguments of :func:`load_served_model` for the model a session asked for.

    Every caller passes these, so the sidebar and all pages hit one cache entry; the card's sha256 is
    part of the key, so weights retrained under the same name are loaded afresh.
    """
    card = card_of(task_id, name)
    return task_id, name, str(paths.MODELS_DIR), card["sha256"] if card else None


def load_served_model(task_id: str, name: str | None, models_dir: str | None = None,
                      card_sha256: str | None = None) -> Any:
    """Load (sha256-checked, safe_mode) and warm up a served model.

    Args:
        task_id: the task.
        name: the model name; None serves the task's default model.
        models_dir: root of the served models; defaults to ``core.paths.MODELS_DIR``.
        card_sha256: the card's digest when the caller read it; only a cache key here (the loader
            checks the file against the card itself).

    Returns:
        The ``core.inference.ServedModel``.
    """
    from core.inference import load_model

    return load_model(task_id, name, models_dir=models_dir or paths.MODELS_DIR, warm_up=True)


def bundled_samples(task_id: str) -> list[Path]:
    """Example images shipped for a task (``samples/<task>/<class>_<n>.png``), sorted by name."""
    folder = paths.SAMPLES_DIR / task_id
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in get_task(task_id).file_types)


def analyse(served: Any, name: str, data: bytes) -> FileResult:
    """Read one file from memory and classify it; an unreadable file becomes an error sentence.

    Args:
        served: the ``ServedModel``.
        name: the file name the user gave (used in messages only).
        data: the file's bytes (never written to disk).

    Returns:
        A FileResult with the prediction and the decoded image, or with the error sentence.
    """
    from core.io import InvalidImageError, read_image

    stream = io.BytesIO(data)
    stream.name = name  # so the reader's sentences name the file
    try:
        image = read_image(stream)
    except InvalidImageError as exc:
        return FileResult(name, error=str(exc))
    return FileResult(name, prediction=served.predict(image.pixels), image=image)


def analysis_key(served: Any, data: bytes, *extra: Hashable) -> tuple:
    """Memo key of one file's analysis: the model's weights digest and the file's content digest."""
    return (served.card["sha256"], hashlib.sha256(data).hexdigest(), *extra)


def remember(memo: MutableMapping[Hashable, Any], key: Hashable, compute: Callable[[], Any],
             max_items: int = MEMO_SIZE) -> Any:
    """Least-recently-used memo: reruns (a slider moved) reuse the analysis instead of redoing it.

    Args:
        memo: a dict kept in the session (insertion order is the recency order).
        key: what identifies the result.
        compute: called on a miss.
        max_items: oldest entries are dropped beyond this.

    Returns:
        The memoised or freshly computed value.
    """
    if key in memo:
        memo[key] = memo.pop(key)  # most recent last
        return memo[key]
    value = compute()
    memo[key] = value
    while len(memo) > max_items:
        memo.pop(next(iter(memo)))
    return value


def heatmap_of(served: Any, image: Any, class_id: str, method: str) -> tuple[Any, Any]:
    """The model-input image and its class-activation heatmap (colour it with ``core.explain.overlay``).

    Args:
        served: the ServedModel.
        image: the decoded uint8 RGB pixels.
        class_id: class to explain.
        method: a key of ``core.explain.CAM_METHODS``.

    Returns:
        ``(prepared uint8 RGB image, heatmap float HxW in [0, 1])``.
    """
    from core.explain import heatmap

    return served.prepare(image).image, heatmap(served, image, class_id, method)
