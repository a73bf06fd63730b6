"""Does DCGAN augmentation help? Stratified k-fold CV x seeds, real-only vs real + synthetic, paired per fold.

    python -m training.gan_augment_experiment --task breast_us --data $MEDIMG_DATA/busi --model small_cnn \
        --image-size 64 --weights none --epochs 15 --mode balance --folds 5 --seeds 3 --gan-epochs 30 \
        --results results/gan_augmentation

The dataset is split into ``--folds`` stratified folds (``--seed``). In each fold, a validation part
is held out of the training part; the generators of the classes that get synthetic images are
trained *inside the fold, on its training part only*; then for each training seed both arms train
the same classifier with the same schedule, one on the real training part, one on it plus
synthetic images (drawn afresh per seed), and both are scored on the fold's real test images. A
control arm gets as many extra images per class as the synthetic arm, duplicated from the class's own
real training images (seeded): it tells new GAN images apart from merely more, or rebalanced, images.
``--mode add`` adds ``--n-per-class`` images to every class; ``--mode balance`` tops every class up
to the largest (as the ultrasound thesis did). Arms are compared per fold (seeds averaged within a
fold): mean difference, t-based 95 % CI, paired t-test and Wilcoxon test (:mod:`training.gan_stats`).
Writes ``experiment.json`` / ``experiment.md`` (after every run, so a stopped experiment still
reports what it ran) and, with ``--results``, ``<results>/<task>_<mode>.json`` / ``.md``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from core import data as core_data
from core import paths
from core.gan.generation import load_generator
from core.tasks import get_task
from training import datasets
from training.cli import run, to_dict, write_json_atomic, write_text_atomic
from training.config import ConfigError, TrainConfig
from training.gan_config import GanConfig, GanExperimentConfig
from training.gan_report import AUGMENTED, CONTROL, REAL, to_markdown
from training.gan_stats import paired_comparison, verdict
from training.generate import write_class_images
from training.train_classifier import fit_and_score

log = logging.getLogger(__name__)
MODULE = "training.gan_augment_experiment"

#: summary metric -> how to read it from fit_and_score's metrics (test split, calibrated probabilities).
METRICS: dict[str, Callable[[dict], float | None]] = {
    "accuracy": lambda m: m["accuracy"],
    "precision (macro)": lambda m: m["test"]["macro"]["precision"],
    "recall (macro)": lambda m: m["test"]["macro"]["recall"],
    "F1 (macro)": lambda m: m["test"]["macro"]["f1"],
    "loss (test log loss)": lambda m: m["test"]["log_loss"],
}

#: mode -> synthetic images per class, from the real training counts and --n-per-class.
MODES: dict[str, Callable[[dict[str, int], int], dict[str, int]]] = {
    "add": lambda counts, n: {c: n for c in counts},
    "balance": lambda counts, n: {c: max(counts.values()) - k for c, k in counts.items()},
}


def metric_readers(classes: Sequence[str]) -> dict[str, Callable[[dict], float | None]]:
    """The summary metrics plus per-class sensitivity and specificity."""
    readers = dict(METRICS)
    for c in classes:
        readers[f"sensitivity ({c})"] = lambda m, c=c: m["test"]["per_class"][c]["sensitivity"]
        readers[f"specificity ({c})"] = lambda m, c=c: m["test"]["per_class"][c]["specificity"]
    return readers


def synthetic_counts(mode: str, train: pd.DataFrame, classes: Sequence[str], n_per_class: int) -> dict[str, int]:
    """Synthetic images to add per class (only classes that get some).

    Raises:
        ConfigError: balance mode on a training split that is already balanced.
    """
    counts = {c: int((train["label"] == c).sum()) for c in classes}
    wanted = {c: n for c, n in MODES[mode](counts, n_per_class).items() if n > 0}
    if not wanted:
        raise ConfigError(f"The training split is already balanced ({counts}); --mode balance would add nothing. "
                          "Use --mode add --n-per-class N.")
    return wanted


def _reusable(card_path: Path, gcfg: GanConfig, table: pd.DataFrame) -> bool:
    """A cached generator is reused only if its card shows the same class images and schedule."""
    from training.train_gan import table_digest

    if not card_path.is_file():
        return False
    card = json.loads(card_path.read_text(encoding="utf-8"))
    same = {k: card.get(k) == getattr(gcfg, k) for k in ("epochs", "image_size", "batch_size", "seed", "latent_dim")}
    rows = table[table["label"] == gcfg.class_id]
    return all(same.values()) and card.get("training_data", {}).get("class_images_sha256") == table_digest(rows)


def fold_generators(cfg: GanExperimentConfig, train: TrainConfig, table: pd.DataFrame, classes: Sequence[str],
                    folder: Path) -> dict[str, tuple]:
    """Generators of ``classes`` trained on this fold's training part only (or reused from the cache).

    Returns:
        class -> (generator, sha256).
    """
    from training.train_gan import train_gan

    found = {}
    for class_id in classes:
        gcfg = GanConfig(task=train.task, class_id=class_id, data=train.data, out=str(folder),
                         runs_dir=str(folder / "runs" / class_id), image_size=cfg.gan_size, epochs=cfg.gan_epochs,
                         batch_size=cfg.gan_batch_size, seed=train.seed, kind=train.kind,
                         generator_seed=train.generator_seed, score=False, verbose=0, sample_every=cfg.gan_epochs)
        if _reusable(folder / f"{class_id}.card.json", gcfg, table):
            log.info("Reusing the '%s' generator of this fold from %s.", class_id, folder)
        else:
            train_gan(gcfg, table=table)
        generator, card = load_generator(folder / f"{class_id}.keras")
        found[class_id] = (generator, card["sha256"])
    return found


def _augment(data: datasets.PreparedData, files: dict[str, list[Path]]) -> datasets.PreparedData:
    """The same split with synthetic images appended to the training part only."""
    rows = pd.DataFrame([{"path": str(p), "label": c, "subject": "", "source": "synthetic"}
                         for c, paths_ in files.items() for p in paths_])
    splits = dict(data.splits, train=pd.concat([data.splits["train"], rows], ignore_index=True))
    section = dict(data.training_data, synthetic_added={c: len(p) for c, p in files.items()})
    return datasets.PreparedData(splits, section, data.duplicates)


def _duplicate(data: datasets.PreparedData, counts: dict[str, int], seed: int) -> datasets.PreparedData:
    """The same split with ``counts[c]`` real training images of each class ``c`` repeated (the control arm)."""
    train = data.splits["train"]
    rng = np.random.default_rng(seed)
    extra = [train[train["label"] == c].iloc[rng.integers(0, int((train["label"] == c).sum()), n)]
             for c, n in counts.items() if n > 0]
    splits = dict(data.splits, train=pd.concat([train, *extra], ignore_index=True))
    section = dict(data.training_data, duplicated_added={c: int(n) for c, n in counts.items()})
    return datasets.PreparedData(splits, section, data.duplicates)


def _run_arm(train: TrainConfig, seed: int, run_dir: Path, data: datasets.PreparedData) -> dict:
    done = run_dir / "metrics.json"
    if train.resume and done.is_file():
        log.info("%s finished before; reusing %s.", run_dir, done)
        return json.loads(done.read_text(encoding="utf-8"))
    return fit_and_score(dataclasses.replace(train, seed=seed), run_dir, data).metrics


def _figures(metrics: dict, readers: dict) -> dict:
    return {name: read(metrics) for name, read in readers.items()}


def fold_means(folds: list[dict], arm: str, metric: str) -> list[float | None]:
    """Per fold, the metric averaged over the fold's seeds (None where undefined in every seed)."""
    out = []
    for fold in folds:
        values = [r[arm][metric] for r in fold["runs"] if r[arm][metric] is not None]
        out.append(float(np.mean(values)) if values else None)
    return out


def compare(folds: list[dict], readers: dict, baseline: str = REAL) -> dict:
    """Paired comparison per metric over the folds run so far: the synthetic arm against ``baseline``
    (whose means are reported as ``real_mean``)."""
    return {name: {"real_mean": _mean(fold_means(folds, baseline, name)),
                   "augmented_mean": _mean(fold_means(folds, AUGMENTED, name)),
                   **paired_comparison(fold_means(folds, baseline, name), fold_means(folds, AUGMENTED, name))}
            for name in readers}


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _publish(result: dict, out: Path, results_dir: str | None) -> None:
    write_json_atomic(result, out / "experiment.json")
    write_text_atomic(to_markdown(result), out / "experiment.md")
    if results_dir:
        stem = Path(results_dir) / f"{result['task']}_{result['mode']}"
        Path(results_dir).mkdir(parents=True, exist_ok=True)
        write_json_atomic(result, stem.with_suffix(".json"))
        write_text_atomic(to_markdown(result), stem.with_suffix(".md"))


def run_experiment(cfg: GanExperimentConfig, command: str | None = None) -> dict:
    """Train both arms on every fold and seed, compare them per fold, write the report after every run.

    Args:
        cfg: the experiment config (its ``train`` part configures every classifier run).
        command: the command line recorded in the report.

    Returns:
        The report: ``folds``, ``seeds``, ``per_fold`` (both arms' figures per seed), ``comparison``
        (per metric), ``mean_difference``, ``ci95``, ``p_value`` (accuracy), ``verdict``, ``data_digest``,
        and ``control`` (the synthetic arm against the duplicated-real control arm, with its own verdict).
    """
    from training.train_gan import portable

    cfg.validate()
    train = dataclasses.replace(cfg.train, ood=False, default=False)
    task = get_task(train.task)
    out = Path(cfg.out) if cfg.out else paths.RUNS_DIR / task.id / f"gan-augment-{train.run_name}"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to_dict(cfg), out / "config.json")
    df = datasets.read_table(train)
    wanted = [int(k) for k in cfg.fold_ids] if cfg.fold_ids else list(range(1, (cfg.folds_run or cfg.folds) + 1))
    folds = [(k, split) for k, split in enumerate(core_data.kfold_splits(df, cfg.folds, train.seed), start=1)
             if k in wanted]
    seeds = [train.seed + i for i in range(cfg.seeds)]
    readers = metric_readers(task.classes)
    result = {
        "task": task.id, "model": train.model, "mode": cfg.mode, "n_per_class": cfg.n_per_class,
        "design": {"folds": cfg.folds, "seeds_per_fold": cfg.seeds, "cv": "stratified k-fold", "split_seed": train.seed,
                   "generators": "trained inside each fold on its training part only (validation and test unseen), "
                                 "once per fold and shared by that fold's seeds",
                   "gan": {"epochs": cfg.gan_epochs, "size": cfg.gan_size, "batch_size": cfg.gan_batch_size},
                   "classifier": {"model": train.model, "image_size": train.image_size, "epochs": train.epochs,
                                  "batch_size": train.batch_size, "weights": train.weights}},
        "folds": len(folds), "folds_planned": cfg.folds, "seeds": seeds, "n_images": int(len(df)),
        "limit_per_class": train.limit,
        "data": datasets.portable_path(train.data),
        "data_digest": datasets.file_list_digest(df["path"].astype(str).tolist()),
        "command": portable(command or ""), "per_fold": [], "complete": False,
    }
    for k, (train_idx, test_idx) in folds:
        data = datasets.fold_data(train, df, train_idx, test_idx)
        counts = synthetic_counts(cfg.mode, data.splits["train"], task.classes, cfg.n_per_class)
        gan_dir = (Path(cfg.gan_cache) if cfg.gan_cache else out / "generators") / f"fold_{k}"
        generators = fold_generators(cfg, train, data.splits["train"], list(counts), gan_dir)
        fold = {"fold": k, "split_sizes": data.split_sizes, "synthetic_per_class": counts,
                "generator_sha256": {c: g[1] for c, g in generators.items()}, "runs": []}
        result["per_fold"].append(fold)
        for seed in seeds:
            log.info("Fold %d, seed %d: real-only arm.", k, seed)
            real = _run_arm(train, seed, out / f"fold_{k}" / "real" / f"seed_{seed}", data)
            files = {c: write_class_images(generators[c][0], task.id, c, n, out / f"fold_{k}" / "synthetic" /
                                           f"seed_{seed}", seed, generators[c][1]) for c, n in counts.items()}
            log.info("Fold %d, seed %d: real + synthetic arm (%s).", k, seed,
                     ", ".join(f"{c} +{len(f)}" for c, f in files.items()))
            augmented = _run_arm(train, seed, out / f"fold_{k}" / "augmented" / f"seed_{seed}", _augment(data, files))
            log.info("Fold %d, seed %d: control arm (as many duplicated real images).", k, seed)
            control = _run_arm(train, seed, out / f"fold_{k}" / "control" / f"seed_{seed}",
                               _duplicate(data, counts, seed))
            fold["runs"].append({"seed": seed, REAL: _figures(real, readers), AUGMENTED: _figures(augmented, readers),
                                 CONTROL: _figures(control, readers)})
            result["comparison"] = compare(result["per_fold"], readers)
            accuracy = result["comparison"]["accuracy"]
            result.update(mean_difference=accuracy["mean_difference"], ci95=accuracy["ci95"],
                          p_value=accuracy["p_value"], verdict=verdict(accuracy, "accuracy"))
            against = compare(result["per_fold"], readers, baseline=CONTROL)
            result["control"] = {"arm": CONTROL, "extra_per_class": counts, "comparison": against,
                                 "verdict": verdict(against["accuracy"], "accuracy",
                                                    versus="as many duplicated real images")}
            _publish(result, out, cfg.results)
    result["complete"] = True
    result["files"] = {"json": str(out / "experiment.json"), "markdown": str(out / "experiment.md")}
    _publish(result, out, cfg.results)
    return result


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), run both arms on every fold, print the verdict."""
    return run(GanExperimentConfig, run_experiment, argv, module=MODULE,
               description="Compare a classifier trained on real images with one trained on real + DCGAN images.",
               report=lambda cfg, result: f"{result['verdict']['sentence']}\nReport: {result['files']['markdown']}")


if __name__ == "__main__":
    main()
