"""Does DCGAN augmentation help? The same classifier and split, real-only versus real + synthetic.

    python -m training.gan_augment_experiment --task brain_mri_binary --data data/br35h --model small_cnn \\
        --image-size 64 --epochs 25 --mode add --n-per-class 500 --seeds 3 --train-gans --gan-epochs 100

One split (``--seed``) is made once; both arms train on it with ``--seeds`` training seeds each
(``seed``, ``seed + 1``, ...). Synthetic images, drawn afresh for each training seed, are added to
the *training* split only; validation and test stay real, so both arms are scored on the same real
test images. ``--mode add`` adds ``--n-per-class`` images to every class; ``--mode balance`` tops
every class up to the largest (as the ultrasound thesis did). Generators come from
``train_gan`` (``<models_dir>/<task>/gan``) or, with ``--train-gans``, are trained here on the
experiment's training split. Writes ``experiment.json`` and ``experiment.md`` with mean +- std
of every metric and a plain sentence saying whether synthetic data helped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from core import paths
from core.tasks import get_task
from training import datasets
from training.cli import parse_config, to_dict, write_json_atomic, write_text_atomic
from training.config import ConfigError, TrainConfig
from training.gan_config import GanConfig, GanExperimentConfig
from training.generate import find_generators, generators_dir, load_generator, write_class_images
from training.train_classifier import fit_and_score

log = logging.getLogger(__name__)
MODULE = "training.gan_augment_experiment"
REAL, AUGMENTED = "real only", "real + synthetic"

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


def _split_of(train: TrainConfig) -> dict:
    return {"used": "train", "seed": train.seed, "val_fraction": train.val_fraction,
            "test_fraction": train.test_fraction, "respect_source": train.respect_source, "limit": train.limit}


def _train_generators(cfg: GanExperimentConfig, train: TrainConfig, table: pd.DataFrame, classes, out: Path) -> dict:
    from training.train_gan import train_gan

    found = {}
    for class_id in classes:
        gcfg = GanConfig(task=train.task, class_id=class_id, data=train.data, out=str(out / "generators"),
                         models_dir=train.models_dir, runs_dir=str(out / "gan_runs" / class_id),
                         image_size=cfg.gan_size, epochs=cfg.gan_epochs, batch_size=cfg.gan_batch_size,
                         seed=train.seed, val_fraction=train.val_fraction, test_fraction=train.test_fraction,
                         respect_source=train.respect_source, limit=train.limit, kind=train.kind,
                         generator_seed=train.generator_seed, resume=train.resume, verbose=train.verbose)
        result = train_gan(gcfg, table=table)
        found[class_id] = {"path": Path(result["keras_file"]),
                           "card": json.loads(Path(result["card_file"]).read_text(encoding="utf-8"))}
    return found


def _provenance_warnings(found: dict, train: TrainConfig) -> list[str]:
    """Generators that may have learnt from validation or test images would flatter the synthetic arm."""
    warnings = []
    for class_id, item in found.items():
        card = item["card"]
        if card is None:
            warnings.append(f"The '{class_id}' generator has no card: which images it learnt from is unknown, "
                            "so it may have seen this experiment's test images.")
            continue
        split = card.get("training_data", {}).get("split", {})
        same_root = Path(str(card.get("data_root"))).resolve() == Path(train.data).resolve()
        if not same_root or split != _split_of(train):
            warnings.append(f"The '{class_id}' generator was not trained on this experiment's training split "
                            f"(its card: data {card.get('data_root')}, split {split}); it may have seen test "
                            "images, which would flatter the synthetic arm. Use --train-gans to rule this out.")
    return warnings


def _augment(data: datasets.PreparedData, files: dict[str, list[Path]]) -> datasets.PreparedData:
    """The same split with synthetic images appended to the training part only."""
    rows = pd.DataFrame([{"path": str(p), "label": c, "subject": "", "source": "synthetic"}
                         for c, paths_ in files.items() for p in paths_])
    splits = dict(data.splits, train=pd.concat([data.splits["train"], rows], ignore_index=True))
    section = dict(data.training_data, synthetic_added={c: len(p) for c, p in files.items()})
    return datasets.PreparedData(splits, section, data.duplicates)


def _run_arm(train: TrainConfig, seed: int, run_dir: Path, data: datasets.PreparedData) -> dict:
    done = run_dir / "metrics.json"
    if train.resume and done.is_file():
        log.info("%s finished before; reusing %s.", run_dir.name, done)
        return json.loads(done.read_text(encoding="utf-8"))
    return fit_and_score(dataclasses.replace(train, seed=seed), run_dir, data).metrics


def summarise(runs: list[dict], readers: dict[str, Callable[[dict], float | None]]) -> dict[str, dict]:
    """Mean and sample standard deviation of each metric over seeds (undefined values left out, ``n`` says)."""
    out = {}
    for name, read in readers.items():
        values = np.array([v for v in (read(m) for m in runs) if v is not None], dtype=np.float64)
        out[name] = {"mean": float(values.mean()) if len(values) else None,
                     "std": float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else None),
                     "n": int(len(values)), "values": values.tolist()}
    return out


def _pm(stats: dict) -> str:
    return "n/a" if stats["mean"] is None else f"{stats['mean']:.3f} +- {stats['std']:.3f}"


def verdict(real: dict, augmented: dict, metric: str = "accuracy") -> dict:
    """Did synthetic data help? Improved only when the gain exceeds one standard deviation of either arm.

    Args:
        real: summary stats (mean, std) of the metric, real-only arm.
        augmented: the same for real + synthetic.
        metric: the metric's name, used in the sentence.

    Returns:
        ``outcome`` ("improved", "no_improvement" or "worse"), ``difference`` and ``sentence``.
    """
    diff = augmented["mean"] - real["mean"]
    noise = max(real["std"], augmented["std"])
    figures = f"real-only {_pm(real)} vs real+synthetic {_pm(augmented)} (difference {diff:+.3f}"
    if diff > noise:
        outcome, sentence = "improved", f"Synthetic augmentation improved {metric}: {figures}, larger than one standard deviation)."
    elif diff < -noise:
        outcome, sentence = "worse", (f"Synthetic augmentation did NOT improve {metric}; it made it worse: {figures}, "
                                      "larger than one standard deviation).")
    else:
        outcome, sentence = "no_improvement", (f"Synthetic augmentation did NOT improve {metric}: {figures}, "
                                               "within one standard deviation).")
    return {"metric": metric, "outcome": outcome, "difference": float(diff), "sentence": sentence}


def to_markdown(result: dict) -> str:
    """The report: the verdict first, then mean +- std per metric for both arms, then per seed."""
    arms = result["arms"]
    lines = [f"# DCGAN augmentation: `{result['model']}` on `{result['task']}`", "",
             f"**{result['verdict']['sentence']}**", "",
             f"Mode `{result['mode']}`: synthetic images added to the training split only "
             f"({', '.join(f'{c}: +{n}' for c, n in result['synthetic_per_class'].items())}); validation and test "
             f"are the same real images for both arms. Split seed {result['split_seed']}, training seeds "
             f"{', '.join(map(str, result['seeds']))}. Real split sizes: "
             f"{', '.join(f'{k} {v}' for k, v in result['split_sizes'].items())}.", "",
             f"| metric | {REAL} | {AUGMENTED} | difference |", "|---|---:|---:|---:|"]
    for name in arms[REAL]["summary"]:
        a, b = arms[REAL]["summary"][name], arms[AUGMENTED]["summary"][name]
        diff = "n/a" if a["mean"] is None or b["mean"] is None else f"{b['mean'] - a['mean']:+.3f}"
        lines.append(f"| {name} | {_pm(a)} | {_pm(b)} | {diff} |")
    lines += ["", "Accuracy per training seed:", "", f"| seed | {REAL} | {AUGMENTED} |", "|---:|---:|---:|"]
    for seed, a, b in zip(result["seeds"], arms[REAL]["summary"]["accuracy"]["values"],
                          arms[AUGMENTED]["summary"]["accuracy"]["values"]):
        lines.append(f"| {seed} | {a:.3f} | {b:.3f} |")
    if result["warnings"]:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in result["warnings"]]
    return "\n".join(lines) + "\n"


def run_experiment(cfg: GanExperimentConfig) -> dict:
    """Train both arms with every seed and compare.

    Args:
        cfg: the experiment config (its ``train`` part configures every classifier run).

    Returns:
        ``arms`` (arm -> runs and summary), ``verdict``, ``synthetic_per_class``, ``split_sizes``,
        ``warnings``, ``files`` (json, markdown).
    """
    cfg.validate()
    train = dataclasses.replace(cfg.train, ood=False, default=False)
    task = get_task(train.task)
    out = Path(cfg.out) if cfg.out else paths.RUNS_DIR / task.id / f"gan-augment-{train.run_name}"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to_dict(cfg), out / "config.json")
    data = datasets.prepare_data(train)
    counts = synthetic_counts(cfg.mode, data.splits["train"], task.classes, cfg.n_per_class)
    if cfg.train_gans:
        found = _train_generators(cfg, train, data.splits["train"], list(counts), out)
    else:
        found = find_generators(task.id, cfg.generators or generators_dir(task.id, train.models_dir), list(counts))
    generators = {c: load_generator(item["path"], (item["card"] or {}).get("sha256")) for c, item in found.items()}
    warnings = [] if cfg.train_gans else _provenance_warnings(found, train)
    if cfg.seeds < 3:
        warnings.append(f"Only {cfg.seeds} training seeds per arm: the standard deviations are rough; use 3 or more.")
    seeds = [train.seed + i for i in range(cfg.seeds)]
    runs: dict[str, list[dict]] = {REAL: [], AUGMENTED: []}
    for seed in seeds:
        log.info("Seed %d: real-only arm.", seed)
        runs[REAL].append(_run_arm(train, seed, out / "real" / f"seed_{seed}", data))
        files = {c: write_class_images(generators[c][0], task.id, c, n, out / "synthetic" / f"seed_{seed}", seed,
                                       generators[c][1]) for c, n in counts.items()}
        log.info("Seed %d: real + synthetic arm (%s).", seed, ", ".join(f"{c} +{len(f)}" for c, f in files.items()))
        runs[AUGMENTED].append(_run_arm(train, seed, out / "augmented" / f"seed_{seed}", _augment(data, files)))
    readers = metric_readers(task.classes)
    arms = {arm: {"summary": summarise(metrics, readers), "run_dirs": [str(out / key / f"seed_{s}") for s in seeds]}
            for arm, key, metrics in ((REAL, "real", runs[REAL]), (AUGMENTED, "augmented", runs[AUGMENTED]))}
    result = {
        "task": task.id, "model": train.model, "mode": cfg.mode, "n_per_class": cfg.n_per_class,
        "synthetic_per_class": counts, "split_seed": train.seed, "seeds": seeds, "split_sizes": data.split_sizes,
        "generators": {c: {"path": str(item["path"]), "sha256": generators[c][1]} for c, item in found.items()},
        "trained_generators_here": cfg.train_gans, "arms": arms,
        "verdict": verdict(arms[REAL]["summary"]["accuracy"], arms[AUGMENTED]["summary"]["accuracy"]),
        "warnings": warnings,
        "files": {"json": str(out / "experiment.json"), "markdown": str(out / "experiment.md")},
    }
    write_json_atomic(result, out / "experiment.json")
    write_text_atomic(to_markdown(result), out / "experiment.md")
    return result


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), run both arms, print the verdict."""
    cfg = parse_config(GanExperimentConfig, argv, "python -m " + MODULE,
                       "Compare a classifier trained on real images with one trained on real + DCGAN images.")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run_experiment(cfg)
    print(result["verdict"]["sentence"])
    print(f"Report: {result['files']['markdown']}")
    return result


if __name__ == "__main__":
    main()
