"""Export a served classifier for TensorFlow Serving (SavedModel) or for devices (TFLite).

    python -m training.export --task brain_mri_4class --format savedmodel --out export/
    python -m training.export --task breast_us --model small_cnn --format tflite --out export/

The model is loaded through ``core.serving`` (sha256 checked against its card) and written in
TensorFlow Serving's layout, ``<out>/<serving name>/<version>/``, with the card beside it in
``assets.extra/card.json`` (TF Serving ignores that folder's other files), and ``<out>/models.config``
lists every SavedModel under ``<out>`` for one TF Serving container. The SavedModel has two
signatures taking images *after* the card's preprocessing (``(n, H, W, 3)``, 0..255):

* ``serving_default``: float32 images;
* ``serving_uint8``: uint8 images (a quarter of the bytes on the wire).

Both return ``probabilities`` (calibrated: softmax of logits / the card's temperature),
``logits`` and ``features`` (the penultimate layer, for the card's out-of-distribution detector),
so an app replica pointed at TF Serving (``MEDIMG_SERVING_URL``) answers exactly as the local model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from core import paths
from core.models.head import FEATURES_LAYER, LOGITS_LAYER
from core.serving.loader import load_keras_checked
from core.serving.remote import serving_name
from core.serving.store import select_card
from core.tasks import get_task
from training.cli import run, write_json_atomic
from training.config import ConfigError, _opt

log = logging.getLogger(__name__)
MODULE = "training.export"
CARD_FILE = "assets.extra/card.json"
TFLITE_FILE = "model.tflite"
MODELS_CONFIG = "models.config"


@dataclass
class ExportConfig:
    """Which served model to export, in which format, where."""

    task: str = _opt(None, "task id from core.tasks")
    model: str | None = _opt(None, "served model name (default: the task's default model)")
    models_dir: str | None = _opt(None, "where served models are looked up (default: core.paths.MODELS_DIR)")
    format: str = _opt("savedmodel", "what to write", ("savedmodel", "tflite"))
    out: str = _opt(None, "export root: the model goes to <out>/<serving name>/<version>/")
    version: int | None = _opt(None, "version folder (default: one above the highest already in <out>/<name>)")
    name: str | None = _opt(None, "serving name, the <name> of TF Serving's URL (default: <task>-<model>)")
    serving_root: str = _opt("/models", "where <out> is mounted in the TF Serving container (for models.config)")

    def validate(self) -> ExportConfig:
        """Check values an export cannot start with; returns self."""
        if not self.task or not self.out:
            raise ConfigError("Pass --task and --out (the export root, e.g. --out export/).")
        if self.version is not None and self.version < 1:
            raise ConfigError(f"version must be at least 1, got {self.version}.")
        return self


def calibrated_model(keras_model, temperature: float):
    """The classifier with named outputs ``probabilities`` (softmax of logits / T), ``logits``, ``features``.

    Args:
        keras_model: a project classifier (it has the shared head's ``logits`` and ``features`` layers).
        temperature: the card's calibration temperature.

    Returns:
        keras.Model taking prepared float images, 0..255.
    """
    import keras

    logits = keras_model.get_layer(LOGITS_LAYER).output
    probabilities = keras.layers.Softmax(name="calibrated")(
        keras.layers.Rescaling(1.0 / float(temperature), name="temperature")(logits))
    outputs = {"probabilities": probabilities, "logits": logits,
               "features": keras_model.get_layer(FEATURES_LAYER).output}
    return keras.Model(keras_model.inputs, outputs, name=f"{keras_model.name}_calibrated")


class ServingModule(tf.Module):
    """The calibrated classifier behind two named signatures, as TF Serving sees it."""

    def __init__(self, keras_model, temperature: float):
        super().__init__(name="classifier")
        self.model = calibrated_model(keras_model, temperature)
        shape = [None, *(int(d) for d in keras_model.inputs[0].shape[1:])]
        self.serve_float = tf.function(self._outputs, input_signature=[tf.TensorSpec(shape, tf.float32, "images")])
        self.serve_uint8 = tf.function(lambda images: self._outputs(tf.cast(images, tf.float32)),
                                       input_signature=[tf.TensorSpec(shape, tf.uint8, "images")])

    def _outputs(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {name: tf.cast(value, tf.float32) for name, value in self.model(images, training=False).items()}

    def signatures(self) -> dict[str, Callable]:
        return {"serving_default": self.serve_float.get_concrete_function(),
                "serving_uint8": self.serve_uint8.get_concrete_function()}


def next_version(folder: Path) -> int:
    """One above the highest numeric version folder in ``folder`` (1 when there is none)."""
    versions = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()] if folder.is_dir() else []
    return max(versions, default=0) + 1


def _write_savedmodel(module: ServingModule, target: Path) -> None:
    tf.saved_model.save(module, str(target), signatures=module.signatures())


def _write_tflite(module: ServingModule, target: Path) -> None:
    # From the Keras model: converting the tf.Module leaves the weights as resource variables
    # that the TFLite interpreter reads uninitialised (NaN out).
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(module.model).convert()
    target.mkdir(parents=True)
    (target / TFLITE_FILE).write_bytes(flatbuffer)


def write_models_config(out: Path, serving_root: str = "/models") -> Path:
    """TF Serving's ``models.config`` listing every SavedModel under ``out`` (serve them all from one container).

    Args:
        out: the export root.
        serving_root: where ``out`` is mounted inside the serving container.

    Returns:
        Path of the written ``<out>/models.config``.
    """
    names = sorted(p.parent.parent.name for p in out.glob("*/*/saved_model.pb") if p.parent.name.isdigit())
    entries = "".join(f'  config {{\n    name: "{name}"\n    base_path: "{serving_root.rstrip("/")}/{name}"\n'
                      '    model_platform: "tensorflow"\n  }\n' for name in dict.fromkeys(names))
    path = out / MODELS_CONFIG
    path.write_text(f"model_config_list {{\n{entries}}}\n", encoding="utf-8")
    return path


#: --format -> writer of the export into an empty version folder.
WRITERS: dict[str, Callable[[ServingModule, Path], None]] = {"savedmodel": _write_savedmodel,
                                                             "tflite": _write_tflite}


def export(cfg: ExportConfig) -> dict:
    """Export one served model.

    Args:
        cfg: the validated export config.

    Returns:
        ``{"path": version folder, "name": serving name, "version": n, "format": ..., "card": card path}``.

    Raises:
        core.serving.ServingError: the model is missing or fails its integrity check.
        ConfigError: the version folder already exists.
    """
    task = get_task(cfg.task)
    root = Path(cfg.models_dir) if cfg.models_dir else paths.MODELS_DIR
    # Always the local file (never MEDIMG_SERVING_URL): this is what TF Serving will be given.
    source = select_card(task.id, cfg.model, root)
    keras_model = load_keras_checked(root / task.id / source["keras_file"], source["sha256"])
    name = cfg.name or serving_name(task.id, source["name"])
    root = Path(cfg.out) / name
    version = cfg.version or next_version(root)
    target = root / str(version)
    if target.exists():
        raise ConfigError(f"{target} already exists; pick another --version (TF Serving versions are immutable).")
    WRITERS[cfg.format](ServingModule(keras_model, source["calibration"]["temperature"]), target)
    card = {**source, "export": {"format": cfg.format, "serving_name": name, "version": version,
                                      "signatures": ["serving_default", "serving_uint8"],
                                      "outputs": ["probabilities", "logits", "features"]}}
    card_path = write_json_atomic(card, target / CARD_FILE)
    if cfg.format == "savedmodel":
        write_models_config(Path(cfg.out), cfg.serving_root)
    log.info("Exported %s/%s as %s to %s", task.id, source["name"], cfg.format, target)
    return {"path": str(target), "name": name, "version": version, "format": cfg.format, "card": str(card_path)}


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags, export, print where the model went."""
    return run(ExportConfig, export, argv, module=MODULE,
               description="Export a served classifier as a SavedModel (TF Serving) or a TFLite file.",
               report=lambda cfg, r: f"{r['format']}: {r['path']} (serving name {r['name']}, version {r['version']})")


def tflite_predict(path: str | Path, images: np.ndarray) -> dict[str, np.ndarray]:
    """Run an exported ``model.tflite`` on prepared float32 images (for checks and benchmarks).

    Returns:
        Output name (``probabilities``, ``logits``, ``features``) -> array.
    """
    interpreter = tf.lite.Interpreter(model_path=str(path))
    (input_name,) = interpreter.get_signature_list()["serving_default"]["inputs"]
    outputs = interpreter.get_signature_runner()(**{input_name: np.asarray(images, np.float32)})
    # The arrays point into the interpreter's buffers, freed with it: copy them out first.
    return {name: np.array(value, copy=True) for name, value in outputs.items()}


if __name__ == "__main__":
    main()
