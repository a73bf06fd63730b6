"""Predict through a TensorFlow Serving REST endpoint instead of a local TensorFlow model.

When ``MEDIMG_SERVING_URL`` is set (e.g. ``http://serving:8501``), :func:`core.serving.load_model`
returns a :class:`~core.serving.served.ServedModel` whose forward pass is a
``POST <url>/v1/models/<task>-<model>:predict`` to a model exported by ``python -m training.export``.
Everything else (the card, calibration, conformal sets, the OOD detector, the verdict) stays in the
app replica and runs the same code as local serving, so both answer identically. The card (and the
OOD file) must be in the replica's models folder; the ``.keras`` file is optional and, when present
and matching its card, is used only for explanations (Grad-CAM needs gradients TF Serving cannot give).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from core import paths
from core.serving.errors import ServingError
from core.serving.store import select_card
from core.tasks import get_task

#: Environment variable naming the TF Serving REST root (scheme, host, port), e.g. http://serving:8501.
SERVING_URL_ENV = "MEDIMG_SERVING_URL"
#: Seconds one predict request may take before the app gives up with a sentence.
TIMEOUT_S = 30.0


class RemoteServingError(ServingError):
    """The model server could not be reached or gave an answer the app cannot use."""


def serving_name(task_id: str, model_name: str) -> str:
    """The model's name in TF Serving (``<task>-<model>``): unique across tasks, valid in a URL."""
    return f"{task_id}-{model_name}"


def serving_url() -> str | None:
    """The configured TF Serving REST root, or None for local serving."""
    return os.environ.get(SERVING_URL_ENV) or None


class RemoteForward:
    """Same call as :class:`core.serving.forward.Forward`, answered by TF Serving's REST API.

    Attributes:
        input_shape: ``(H, W, C)`` the model takes.
        url: the predict endpoint.
    """

    def __init__(self, base_url: str, name: str, input_shape: tuple[int, int, int], timeout_s: float = TIMEOUT_S):
        self.url = f"{base_url.rstrip('/')}/v1/models/{name}:predict"
        self.input_shape = tuple(int(d) for d in input_shape)
        self.timeout_s = timeout_s

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and features of already-prepared images.

        Args:
            batch: (n, H, W, C) prepared images, 0..255.

        Returns:
            ``(logits (n, k), features (n, d))`` as float32 arrays.

        Raises:
            ValueError: the batch has the wrong shape.
            RemoteServingError: the server is unreachable or its answer is malformed.
        """
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != self.input_shape:
            raise ValueError(f"Expected prepared images of shape (n, {', '.join(map(str, self.input_shape))}), "
                             f"got {batch.shape}.")
        # Prepared images are whole numbers 0..255: the uint8 signature sends them as short integers.
        whole = bool(np.all((batch >= 0) & (batch <= 255) & (batch == np.round(batch))))
        body = {"signature_name": "serving_uint8" if whole else "serving_default",
                "instances": (batch.astype(np.uint8) if whole else batch).tolist()}
        rows = self._post(body).get("predictions")
        try:
            logits = np.array([row["logits"] for row in rows], np.float32)
            features = np.array([row["features"] for row in rows], np.float32)
        except (TypeError, KeyError) as exc:
            raise RemoteServingError(f"The model server at {self.url} answered without logits and features "
                                     f"({exc}); export the model with python -m training.export.") from None
        if len(logits) != len(batch):
            raise RemoteServingError(f"The model server answered {len(logits)} results for {len(batch)} images.")
        return logits, features

    def _post(self, body: dict) -> dict:
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (configured URL)
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise RemoteServingError(f"The model server refused the request ({exc.code}: {detail}); check that it "
                                     "serves this model under the name the app asks for.") from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise RemoteServingError(f"The model server at {self.url} did not answer ({exc}); ask your "
                                     f"administrator to check the TF Serving container or unset {SERVING_URL_ENV}.") \
                from None


def load_remote(task_id: str, name: str | None = None, models_dir: str | Path | None = None,
                base_url: str | None = None, warm_up: bool = True):
    """A ServedModel whose predictions come from TF Serving.

    Args:
        task_id: the task.
        name: model name; None picks the task's default card, as local serving does.
        models_dir: root of the cards (default core.paths.MODELS_DIR).
        base_url: TF Serving REST root (default ``$MEDIMG_SERVING_URL``).
        warm_up: send one request now, so a misconfigured server fails at start-up, not on an upload.

    Returns:
        core.serving.served.ServedModel with a :class:`RemoteForward`.

    Raises:
        ModelNotFoundError: no card for the task / name.
        RemoteServingError: no URL configured, or the server does not answer.
    """
    from core.serving import served as served_module

    base_url = base_url or serving_url()
    if not base_url:
        raise RemoteServingError(f"No model server configured: set {SERVING_URL_ENV}, e.g. http://serving:8501.")
    task = get_task(task_id)
    root = Path(models_dir) if models_dir is not None else paths.MODELS_DIR
    card = select_card(task.id, name, root)
    folder = root / task.id
    keras_model = None
    keras_path = folder / card["keras_file"]
    if keras_path.is_file():  # only for explanations; predictions never use it
        from core.serving.loader import load_keras_checked

        keras_model = load_keras_checked(keras_path, card["sha256"])
    forward = RemoteForward(base_url, serving_name(task.id, card["name"]), tuple(card["input_shape"]))
    served = served_module.ServedModel(card, keras_model, served_module._ood_scorer(card, folder), forward=forward)
    if warm_up:
        served.warm_up()
    return served
