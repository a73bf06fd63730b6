"""What the pages need from serving: the session's defaults, the models on offer, analysis of one file.

Nothing here touches Streamlit, and nothing imports TensorFlow at import time: the card listing reads
JSON only, and :class:`ModelPool` loads models (and TensorFlow with them) in a background thread, so
the first page of a fresh server is drawn before the model is ready.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Hashable, MutableMapping

import numpy as np

from core import paths
from core.tasks import TASKS, get_task
from core.ui.verdicts import FileResult

#: Per-session memo of analyses and heatmaps; bounded so a long session does not hoard images.
MEMO_SIZE = 32

_IMPORT_LOCK = threading.Lock()

#: Hex digits of the content hash that labels an image when file names are hidden.
HASH_CHARS = 6


def session_defaults() -> dict[str, Any]:
    """Session-state keys every page relies on, with their initial values (set once per session)."""
    return {"task_id": next(iter(TASKS)), "model_name": None, "memo": {}, "show_names": False}


def _cards(task_id: str) -> list[dict]:
    # The card index reads JSON only; loading a model would pull TensorFlow into the page's thread.
    from core.serving.store import list_models

    return list_models(task_id)


def model_names(task_id: str) -> list[str]:
    """Names of the valid served models of a task, the one served by default first; empty when none."""
    return [c["name"] for c in _cards(task_id)]  # already default-first, then most accurate


def card_of(task_id: str, name: str | None) -> dict | None:
    """The card of one served model (None when the task has no such model)."""
    return next((c for c in _cards(task_id) if c["name"] == name), None)


def served_model_args(task_id: str, name: str | None) -> tuple[str, str | None, str, str | None]:
    """Arguments of :func:`load_served_model` for the model a session asked for.

    Every caller passes these, so all pages hit one cache entry; the card's sha256 is part of the key,
    so weights retrained under the same name are loaded afresh.
    """
    card = card_of(task_id, name)
    return task_id, name, str(paths.MODELS_DIR), card["sha256"] if card else None


def quiet_tensorflow() -> None:
    """Import TensorFlow once with its start-up banners silenced (they read like errors in a console).

    ``TF_CPP_MIN_LOG_LEVEL`` covers TensorFlow's own logging after start-up; the banners printed while
    its C++ libraries load ignore it, so the process's stderr is pointed at /dev/null for that import.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _IMPORT_LOCK:
        if "tensorflow" in sys.modules:
            return
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


def _warm_decoder() -> None:
    """Start the bounded decoding worker now (a tiny image), so the first upload does not wait for it."""
    from core.io import InvalidImageError, read_image
    from core.ui.verdicts import png_bytes

    try:
        read_image(png_bytes(np.zeros((32, 32, 3), np.uint8)))
    except InvalidImageError:  # a stricter reader may refuse a blank image; the worker is running anyway
        pass


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
    _warm_decoder()
    quiet_tensorflow()
    import core.serving.served  # looked up at call time, so tests can count the loads

    return core.serving.served.load_model(task_id, name, models_dir=models_dir or paths.MODELS_DIR,
                                          warm_up=True)


class ModelPool:
    """Served models loading in a background thread, one load per set of :func:`served_model_args`.

    Shared by every session (the pages keep one in ``st.cache_resource``); thread-safe. A failed
    load is forgotten once reported, so restoring a model's files needs no server restart.
    """

    def __init__(self, load: Callable[..., Any] | None = None) -> None:
        self._load = load or load_served_model
        self._futures: dict[tuple, Future] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")

    def start(self, *args: Any) -> Future:
        """Begin loading (if not already begun) and return at once."""
        with self._lock:
            future = self._futures.get(args)
            if future is None:
                future = self._futures[args] = self._executor.submit(self._load, *args)
            return future

    def ready(self, *args: Any) -> bool:
        """True when the load has finished (successfully or not)."""
        return self.start(*args).done()

    def get(self, *args: Any, timeout: float | None = None) -> Any:
        """The loaded model, waiting for it; re-raises the loader's error."""
        future = self.start(*args)
        try:
            return future.result(timeout)
        except Exception:
            with self._lock:
                if self._futures.get(args) is future:
                    del self._futures[args]
            raise


def cam_labels() -> dict[str, str]:
    """Explanation method key -> label for the method chooser, read from ``core.explain``'s registry."""
    from core.explain.registry import labels

    return labels()


def bundled_samples(task_id: str) -> list[Path]:
    """Example images shipped for a task (``samples/<task>/<class>_<n>.png``), sorted by name."""
    folder = paths.SAMPLES_DIR / task_id
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in get_task(task_id).file_types)


def image_label(index: int, data: bytes, name: str | None = None) -> str:
    """How a file is named on screen and in reports: "image 2 (3fa2c1)", or its own name when allowed.

    Args:
        index: 0-based position in the upload.
        data: the file's bytes (the short hash tells two uploads apart without naming them).
        name: the file name, only when the user turned file names on for this session.

    Returns:
        The label.
    """
    digest = hashlib.sha256(data).hexdigest()[:HASH_CHARS]
    return f"{name} ({digest})" if name else f"image {index + 1} ({digest})"


def analyse(served: Any, label: str, data: bytes) -> FileResult:
    """Read one file from memory and classify it; whatever goes wrong becomes this file's own sentence.

    Args:
        served: the ``ServedModel``.
        label: how the file is called on screen (see :func:`image_label`).
        data: the file's bytes (never written to disk).

    Returns:
        A FileResult with the prediction and the decoded image, or with the error sentence.
    """
    from core.io import InvalidImageError, read_image
    from core.ui.verdicts import describe_failure

    stream = io.BytesIO(data)
    stream.name = label  # the reader's sentences name the file by its label, never by its real name
    try:
        image = read_image(stream)
        return FileResult(label, prediction=served.predict(image.pixels), image=image)
    except InvalidImageError as exc:
        return FileResult(label, error=str(exc))
    except Exception as exc:  # one bad file never costs the others their results
        return FileResult(label, error=describe_failure(exc, f"analysing {label}"))


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
    """The class-activation heatmap of an image and the picture it lies on.

    Args:
        served: the ServedModel.
        image: the decoded uint8 RGB pixels.
        class_id: class to explain.
        method: a key of ``core.explain``'s CAM registry.

    Returns:
        ``(uint8 RGB base image, heatmap float HxW in [0, 1])``: the upload itself when the map is aligned
        with it, else the model's input.
    """
    from core.explain import heatmap

    heat = heatmap(served, image, class_id, method)
    base = image if heat.shape[:2] == image.shape[:2] else served.prepare(image).image
    return base, heat


def colour_overlay(base: Any, heat: Any, alpha: float) -> Any:
    """The heatmap coloured over its base image (``core.explain.overlay``), uint8 RGB."""
    from core.explain import overlay

    return overlay(base, heat, alpha)


def colour_scale(width: int = 256, height: int = 16) -> Any:
    """The overlay's colour scale, low (left) to high (right), drawn by the overlay function itself."""
    ramp = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    return colour_overlay(np.zeros((height, width, 3), np.uint8), ramp, 1.0)
