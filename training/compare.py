"""Compare backbones on one task with one training config: the MRI paper's tables 4-6.

    python -m training.compare --task blood_smear --data data/c-nmc \\
        --models mobilenet_v2,inception_v3,vgg19,resnet101v2,resnet50,xception --epochs 10

Every model is trained on the same split (read and de-duplicated once) and tested on the same
test images. One row per model: accuracy, macro and weighted F1, parameters, FLOPs, training
time and mean / min / max inference time per image. Writes ``compare.md``, ``compare.csv`` and
``compare.json``; with ``--publish`` every model is also served as ``<run>-<model>``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import pandas as pd

from core import paths
from core.models import get_spec
from training import datasets, loop, publish
from training.cli import run, to_command, to_dict, write_json_atomic, write_text_atomic
from training.config import CompareConfig
from training.train_classifier import check_model_config, fit_and_score, models_dir_for

log = logging.getLogger(__name__)
MODULE = "training.compare"

#: table column -> how to read it from a run's metrics.
COLUMNS = {
    "accuracy": lambda m: m["accuracy"],
    "macro_f1": lambda m: m["macro_f1"],
    "weighted_f1": lambda m: m["weighted_f1"],
    "params": lambda m: m["params"],
    "flops": lambda m: m["flops"],
    "train_seconds": lambda m: m["train_seconds"],
    "inference_mean_ms": lambda m: m["latency_ms"]["mean_ms"],
    "inference_min_ms": lambda m: m["latency_ms"]["min_ms"],
    "inference_max_ms": lambda m: m["latency_ms"]["max_ms"],
}


def _markdown(table: pd.DataFrame, cfg: CompareConfig, n_test: int) -> str:
    lines = [f"# Backbones on `{cfg.train.task}` ({n_test} test images, same split for every model)", "",
             "| model | accuracy | macro F1 | weighted F1 | parameters | GFLOPs | training time (s) "
             "| inference mean (ms) | min (ms) | max (ms) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in table.itertuples():
        lines.append(f"| {row.display_name} | {row.accuracy:.4f} | {row.macro_f1:.4f} | {row.weighted_f1:.4f} "
                     f"| {row.params:,} | {row.flops / 1e9:.3f} | {row.train_seconds:.1f} "
                     f"| {row.inference_mean_ms:.2f} | {row.inference_min_ms:.2f} | {row.inference_max_ms:.2f} |")
    return "\n".join(lines) + "\n"


def compare(cfg: CompareConfig) -> pd.DataFrame:
    """Train and test each model of ``cfg.models`` and tabulate them.

    Args:
        cfg: the comparison config (its ``train`` part configures every model).

    Returns:
        DataFrame with one row per model (columns ``model``, ``display_name`` and :data:`COLUMNS`);
        ``attrs["files"]`` names the written reports.
    """
    cfg.validate()
    base = cfg.train
    for name in cfg.models:
        check_model_config(dataclasses.replace(base, model=name))
    out = Path(cfg.out) if cfg.out else paths.RUNS_DIR / base.task / f"compare-{base.run or 'backbones'}"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to_dict(cfg), out / "config.json")
    data = datasets.prepare_data(base)  # one split for all: differences are the models', not the data's
    rows = []
    for name in cfg.models:
        run = f"{base.run}-{name}" if base.run else name
        model_cfg = dataclasses.replace(base, model=name, run=run, ood=base.ood and cfg.publish)
        log.info("Training %s (%d of %d).", name, len(rows) + 1, len(cfg.models))
        result = fit_and_score(model_cfg, out / name, data)
        loop.reset_checkpoints(out / name)
        if cfg.publish and result.is_chief:
            folder = models_dir_for(model_cfg)
            fitter = partial(publish.fit_ood, result.train_features, result.val_features) if model_cfg.ood else None
            publish.publish(result.model, folder, run, {**result.card_fields, "command": to_command(MODULE, cfg)},
                            fitter)
        rows.append({"model": name, "display_name": get_spec(name).display_name,
                     **{col: read(result.metrics) for col, read in COLUMNS.items()}})
    table = pd.DataFrame(rows)
    files = {"markdown": str(out / "compare.md"), "csv": str(out / "compare.csv"), "json": str(out / "compare.json")}
    write_json_atomic({"task": base.task, "split_sizes": data.split_sizes, "rows": rows}, files["json"])
    write_text_atomic(table.to_csv(index=False), files["csv"])
    write_text_atomic(_markdown(table, cfg, data.split_sizes["test"]), files["markdown"])
    table.attrs["files"] = files
    return table


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Command-line entry: parse flags (and ``--config``), compare, print the table."""
    return run(CompareConfig, compare, argv, module=MODULE, description="Compare backbones on one task.",
               report=lambda cfg, table: Path(table.attrs["files"]["markdown"]).read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
