"""Fine-tune a served classifier so that its heat maps look at the lesion, then publish it as a new model.

    python -m training.lesion_attention --task breast_us --model mobilenet_bn_b16_real --data $MEDIMG_DATA/busi

A model can be right for the wrong reasons: the served breast-ultrasound model's Grad-CAM peaked on the
lesion in about half of the test images. Where the dataset outlines its lesions (BUSI ``<case>_mask.png``),
the training images' outlines can teach the model where to look ("right for the right reasons"): the loss is
the usual class-weighted cross-entropy plus ``--weight`` times the share of the explained feature map's
activation that lies outside the (slightly dilated) lesion outline, averaged over the lesion images of the
batch. Images without an outline (normal scans) only contribute cross-entropy.

The parent's own split recipe (its ``<name>.config.json``) is applied to ``--data``, so the new model is tested
on exactly the parent's test images; only training images' outlines are used, and the epoch kept is the one
with the lowest validation cross-entropy (``--keep-by loss``: the whole objective, with the validation outlines).
The new model is published as ``<run>`` (default ``<model>_lesion``) beside the parent with a card holding its
test figures and a ``fine_tuning`` section; then recalibrate it, refit its guard and audit its explanations::

    python -m training.recalibrate --task breast_us --model mobilenet_bn_b16_real_lesion --data $MEDIMG_DATA/busi
    python -m training.audit_explanations --task breast_us --model mobilenet_bn_b16_real_lesion \\
        --data $MEDIMG_DATA/busi --choose-layer
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from core import paths
from core.data.arrays import label_indices
from core.data.pipeline import augment_batch
from core.io import load_image
from core.serving.provenance import portable_path
from training import datasets, loop, publish, scoring
from training.cli import from_dict, run, to_command, to_dict, write_json_atomic
from training.config import ConfigError, TrainConfig, _opt

log = logging.getLogger(__name__)
MODULE = "training.lesion_attention"
#: The outline is grown by this many model-input pixels (a 9 x 9 max filter: 4 px) before it is compared
#: with the feature map, so the lesion's margin, where much of the evidence lies, is not penalised.
DILATION = 9


@dataclass
class LesionAttentionConfig:
    """Which served model to fine-tune, on which outlined images, and how strongly."""

    task: str = _opt(None, "task id from core.tasks")
    model: str = _opt(None, "served parent model (its card, weights and <name>.config.json are read)")
    data: str = _opt(None, "dataset folder the parent was trained from (lesion outlines beside the images)")
    masks: str | None = _opt(None, "folder of outlines named <image stem>.png (default: beside the images)")
    layer: str | None = _opt(None, "feature map whose activation is guided (default: the parent card's explained "
                                   "layer)")
    weight: float = _opt(30.0, "weight of the outside-the-lesion share in the loss")
    epochs: int = _opt(12, "fine-tuning epochs (the best epoch on the validation split is kept, see --keep-by)")
    keep_by: str = _opt("cross_entropy", "validation figure that picks the epoch kept: cross_entropy (the "
                        "classifier's own criterion; the outline term only shapes the path) or loss (the whole "
                        "objective)", ("cross_entropy", "loss"))
    learning_rate: float = _opt(1e-4, "Adam learning rate")
    batch_size: int = _opt(16, "images per batch")
    seed: int = _opt(42, "seed of shuffling and augmentation")
    run: str | None = _opt(None, "name of the new model (default: <model>_lesion)")
    models_dir: str | None = _opt(None, "served models root (default: core.paths.MODELS_DIR)")
    runs_dir: str | None = _opt(None, "where the run's figures, scores and splits go (default: runs/<task>/<run>)")

    def validate(self) -> LesionAttentionConfig:
        """Check what fine-tuning cannot start without; returns self."""
        if not self.task or not self.model or not self.data:
            raise ConfigError("Pass --task, --model (the served parent) and --data (its dataset folder).")
        if self.weight < 0 or self.learning_rate <= 0 or self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("--weight must be >= 0, --learning-rate > 0, --epochs and --batch-size >= 1.")
        if self.keep_by not in ("cross_entropy", "loss"):
            raise ConfigError("--keep-by must be cross_entropy or loss.")
        return self

    @property
    def run_name(self) -> str:
        return self.run or f"{self.model}_lesion"


def outside_share(fmap: tf.Tensor, masks: tf.Tensor, has_lesion: tf.Tensor) -> tf.Tensor:
    """Share of a feature map's positive activation outside the dilated outlines, averaged over lesion images.

    Args:
        fmap: (B, h, w, K) feature map.
        masks: (B, H, W, 1) outlines at the model input, 0/1.
        has_lesion: (B,) 1 where the image has an outline, else 0 (ignored).

    Returns:
        A scalar in [0, 1] (0 when the batch has no lesion image).
    """
    energy = tf.reduce_mean(tf.nn.relu(tf.cast(fmap, tf.float32)), axis=-1)
    grown = tf.nn.max_pool2d(masks, DILATION, 1, "SAME")
    inside = tf.image.resize(grown, tf.shape(energy)[1:3], method="area")[..., 0]
    inside = tf.minimum(inside * 4.0, 1.0)  # a cell a quarter covered by the outline counts as lesion
    share = tf.reduce_sum(energy * (1.0 - inside), [1, 2]) / (tf.reduce_sum(energy, [1, 2]) + 1e-6)
    return tf.reduce_sum(share * has_lesion) / tf.maximum(tf.reduce_sum(has_lesion), 1.0)


class LesionAttentionModel(keras.Model):
    """A classifier's [feature map, logits] view trained on cross-entropy + weight x outside share."""

    def __init__(self, view: keras.Model, weight: float, class_weights: Sequence[float], **kwargs):
        super().__init__(**kwargs)
        self.view, self.weight = view, float(weight)
        self.class_weights = tf.constant(np.asarray(class_weights, np.float32))
        self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "cross_entropy", "outside")]

    def call(self, images, training=False):
        return self.view(images, training=training)[1]

    def _objective(self, data, training: bool):
        images, (labels, masks, has_lesion) = data
        fmap, logits = self.view(images, training=training)[:2]
        ce = keras.losses.sparse_categorical_crossentropy(labels, tf.cast(logits, tf.float32), from_logits=True)
        ce = tf.reduce_mean(ce * tf.gather(self.class_weights, labels))
        outside = outside_share(fmap, masks, has_lesion)
        return ce + self.weight * outside, ce, outside

    def _record(self, values) -> dict:
        for tracker, value in zip(self.trackers, values):
            tracker.update_state(value)
        return {t.name: t.result() for t in self.trackers}

    @property
    def metrics(self):
        return self.trackers

    def train_step(self, data):
        with tf.GradientTape() as tape:
            values = self._objective(data, training=True)
        variables = self.view.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(values[0], variables), variables))
        return self._record(values)

    def test_step(self, data):
        return self._record(self._objective(data, training=False))


def outlined_arrays(served, table, masks_dir: Path | None):
    """Model-ready images, their outlines at the model input (N, H, W, 1), lesion flags and class positions."""
    from core.explain.alignment import to_model_space
    from training.audit_explanations import mask_for, mask_index

    index = mask_index(masks_dir)
    images, masks, flags = [], [], []
    for path in table["path"]:
        upload = load_image(path)
        prepared = served.prepare(upload)
        outline = mask_for(Path(path), upload.shape, masks_dir, index)
        inside = (to_model_space(outline, prepared.geometry, served.input_size) if outline is not None
                  else np.zeros(served.input_size, bool))
        images.append(prepared.image)
        masks.append(inside)
        flags.append(bool(inside.any()))
    return (np.stack(images).astype(np.float32), np.stack(masks)[..., None].astype(np.float32),
            np.asarray(flags, np.float32), label_indices(table, served.task).astype(np.int32))


def _dataset(arrays, batch_size: int, seed: int, training: bool) -> tf.data.Dataset:
    images, masks, flags, labels = arrays
    ds = tf.data.Dataset.from_tensor_slices((images, (labels, masks, flags)))
    if not training:
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def augment(batch, batch_seed):  # image and outline moved by one transform
        x, (y, m, h) = batch
        both = augment_batch(tf.concat([x, m * 255.0], axis=-1), batch_seed)
        return both[..., :3], (y, tf.cast(both[..., 3:] > 127.0, tf.float32), h)

    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return tf.data.Dataset.zip(ds, seeds).map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def parent_config(cfg: LesionAttentionConfig, folder: Path) -> TrainConfig:
    """The parent's training config (split recipe, sizes), renamed to the new model and pointed at ``--data``."""
    saved = folder / f"{cfg.model}.config.json"
    if not saved.is_file():
        raise ConfigError(f"{saved} is missing: without the parent's split recipe the new model could not be "
                          "tested on the parent's test images.")
    values = json.loads(saved.read_text(encoding="utf-8"))
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    train = from_dict(TrainConfig, {k: v for k, v in values.items() if k in known})
    return dataclasses.replace(train, data=str(cfg.data), run=cfg.run_name, ood=False, default=False,
                               models_dir=cfg.models_dir, runs_dir=None)


def _guided_fit(cfg: LesionAttentionConfig, served, layer: str, arrays: dict) -> dict:
    """Train ``served``'s own layers on the outline-guided objective; returns the card's ``fine_tuning`` section.

    The model keeps the weights of the epoch with the best validation ``--keep-by`` figure.
    """
    from core.explain.engine import cam_graph

    classes = served.task.num_classes
    graph = cam_graph(served.keras_model, layer)
    weights = loop.balanced_class_weights(arrays["train"][3], classes)
    trainer = LesionAttentionModel(keras.Model(graph.view.inputs, graph.view.outputs[:2]), cfg.weight,
                                   [weights[i] for i in range(classes)])
    trainer.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    best = keras.callbacks.EarlyStopping(f"val_{cfg.keep_by}", patience=cfg.epochs, mode="min",
                                         restore_best_weights=True)
    start = time.perf_counter()
    history = trainer.fit(_dataset(arrays["train"], cfg.batch_size, cfg.seed, True), epochs=cfg.epochs,
                          validation_data=_dataset(arrays["val"], cfg.batch_size, cfg.seed, False), callbacks=[best],
                          verbose=2, shuffle=False).history  # tf.data shuffles
    kept = int(np.argmin(history[f"val_{cfg.keep_by}"]))
    return {
        "parent": cfg.model, "parent_sha256": served.card["sha256"], "layer": layer, "weight": cfg.weight,
        "epochs": cfg.epochs, "epoch_kept": kept + 1, "learning_rate": cfg.learning_rate, "batch_size": cfg.batch_size,
        "dilation_px": DILATION // 2, "outlined_training_images": int(arrays["train"][2].sum()),
        "validation": {k: float(v[kept]) for k, v in history.items() if k.startswith("val_")},
        "objective": "class-weighted cross-entropy + weight x share of the layer's activation outside the "
                     "dilated lesion outline (training outlines only)",
        "epoch_kept_by": f"lowest validation {cfg.keep_by.replace('_', '-')}",
        "train_seconds": time.perf_counter() - start,
    }


def _test_metrics(train_cfg: TrainConfig, served, data: datasets.PreparedData, run_dir: Path, section: dict) -> dict:
    """Calibrate on validation and score on the parent's test split, as ``training.train_classifier`` does;
    writes the run's figures, scores, metrics and splits."""
    from training.train_classifier import score_splits

    model, names = served.keras_model, list(served.task.classes)
    scored, latency = score_splits(train_cfg, model, data)
    calib, report, before, after = scoring.calibrated_report(scored["val"], scored["test"], names)
    metrics = {"accuracy": report["accuracy"], "test": report, "calibration": calib, "latency_ms": latency,
               "params": int(model.count_params()), "flops": served.card.get("flops"),
               "train_seconds": section["train_seconds"],
               "plots": scoring.write_plots(run_dir, names, scored["test"]["y"], after, before),
               "conformal": scoring.conformal_report(scored["val"], scored["test"], calib["temperature"]),
               "val_accuracy": scoring.save_scores(scored, run_dir / "scores.npz"),
               "epochs_run": section["epoch_kept"], "split_sizes": data.split_sizes}
    write_json_atomic(metrics, run_dir / "metrics.json")
    write_json_atomic(to_dict(train_cfg), run_dir / "config.json")
    datasets.write_splits(data, run_dir / "splits.csv")
    return metrics


def fine_tune(cfg: LesionAttentionConfig, command: str | None = None) -> dict:
    """Fine-tune the parent with outline guidance, test it on the parent's test split and publish it.

    Returns:
        The new model's metrics (as ``training.train_classifier`` reports them) plus ``card_file`` and
        the ``fine_tuning`` section of its card.
    """
    from core.explain.explanation import card_layer
    from core.serving import load_model
    from training.train_classifier import run_card_fields

    cfg.validate()
    keras.utils.set_random_seed(cfg.seed)
    served = load_model(cfg.task, cfg.model, cfg.models_dir)
    folder = Path(cfg.models_dir or paths.MODELS_DIR) / cfg.task
    train_cfg = parent_config(cfg, folder)
    data = datasets.prepare_data(train_cfg)
    masks_dir = Path(cfg.masks) if cfg.masks else None
    arrays = {name: outlined_arrays(served, data.splits[name], masks_dir) for name in ("train", "val")}
    if not arrays["train"][2].any():
        raise ConfigError(f"No training image of {cfg.data} has a lesion outline: nothing to guide the model with.")
    section = _guided_fit(cfg, served, cfg.layer or card_layer(served), arrays)
    run_dir = Path(cfg.runs_dir) if cfg.runs_dir else paths.RUNS_DIR / cfg.task / cfg.run_name
    metrics = _test_metrics(train_cfg, served, data, run_dir, section)
    fields = run_card_fields(train_cfg, data, metrics, run_dir)
    fields.update(command=command or to_command(MODULE, cfg), fine_tuning=section)
    card_path = publish.publish(served.keras_model, folder, cfg.run_name, fields)
    portable = dataclasses.replace(train_cfg, data=portable_path(train_cfg.data))  # no path of this machine
    write_json_atomic(to_dict(portable), folder / f"{cfg.run_name}.config.json")
    write_json_atomic(to_dict(cfg), run_dir / "lesion_attention.json")
    return {**metrics, "card_file": str(card_path), "fine_tuning": section}


def _summary(cfg: LesionAttentionConfig, result: dict) -> str:
    section = result["fine_tuning"]
    return (f"{cfg.run_name}: test accuracy {result['accuracy']:.1%}; epoch {section['epoch_kept']} of "
            f"{section['epochs']} kept (validation outside share {section['validation'].get('val_outside', 0):.2f}); "
            f"card {result['card_file']}. Next: training.recalibrate and training.audit_explanations --choose-layer.")


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags, fine-tune, publish, print the headline."""
    return run(LesionAttentionConfig, fine_tune, argv, module=MODULE, description=__doc__.splitlines()[0],
               report=_summary)


if __name__ == "__main__":
    main()
