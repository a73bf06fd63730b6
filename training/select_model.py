"""Compare finished training runs of one task on their VALIDATION accuracy and name the one to serve.

    python -m training.select_model --task breast_us --runs runs/breast_us/mobilenet_real,runs/breast_us/small_cnn_real

Each run folder holds the ``config.json`` and ``metrics.json`` that ``training.train_classifier`` wrote. The winner
is chosen on validation log-loss (the early-stopping criterion; it separates candidates that a validation split of
a hundred images cannot separate by accuracy), ties broken by fewer parameters; validation accuracy is reported too.
Test figures are reported for the winner only. The table goes to
``results/model_selection/<task>.json`` and ``.md`` with the command that made it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from core import paths
from training.cli import run, write_json_atomic, write_text_atomic
from training.config import ConfigError, _opt

MODULE = "training.select_model"


@dataclass
class SelectConfig:
    """The runs to compare."""

    task: str = _opt(None, "task id")
    runs: list[str] = _opt(None, "comma-separated run folders (each with config.json and metrics.json)")
    out: str | None = _opt(None, "report folder (default: results/model_selection)")

    def validate(self) -> SelectConfig:
        if not self.task or not self.runs:
            raise ConfigError("Pass --task and --runs (comma-separated run folders).")
        for folder in self.runs:
            for name in ("config.json", "metrics.json", "scores.npz"):
                if not (Path(folder) / name).is_file():
                    raise ConfigError(f"The run folder '{folder}' has no {name}: is the run finished?")
        return self


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _count(epochs) -> int | None:
    """``epochs_run`` is a count, or the list of epoch numbers run (training.loop)."""
    return len(epochs) if isinstance(epochs, list) else epochs


def _row(folder: Path) -> dict:
    config = json.loads((folder / "config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    with np.load(folder / "scores.npz") as scores:
        logits, y = scores["val_logits"].astype(np.float64), scores["val_y"].astype(int)
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    return {
        "run": config.get("run") or config["model"], "model": config["model"], "weights": config["weights"],
        "image_size": config.get("image_size"), "epochs_run": _count(metrics.get("epochs_run")),
        "train_minutes": round(metrics["train_seconds"] / 60, 1), "params": metrics["params"],
        "val_log_loss": float(-log_probs[np.arange(len(y)), y].mean()),
        "val_accuracy": metrics["val_accuracy"], "val_n": metrics["split_sizes"]["val"],
        "_test": metrics["test"], "_test_n": metrics["split_sizes"]["test"],
    }


def select(cfg: SelectConfig, command: str | None = None) -> dict:
    """Rank the runs on validation accuracy; write the JSON and Markdown report; return it."""
    rows = sorted((_row(Path(f)) for f in cfg.runs), key=lambda r: (r["val_log_loss"], r["params"]))
    winner = rows[0]
    test = winner["_test"]
    n = winner["_test_n"]
    correct = round(test["accuracy"] * n)
    report = {
        "task": cfg.task, "command": command, "criterion": "validation log-loss (ties: fewer parameters)",
        "candidates": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
        "winner": winner["run"],
        "winner_test": {"accuracy": test["accuracy"], "n": n, "ci95": wilson_interval(correct, n),
                        "per_class_recall": {c: v["recall"] for c, v in test["per_class"].items()}},
    }
    out = Path(cfg.out) if cfg.out else paths.REPO_ROOT / "results" / "model_selection"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(report, out / f"{cfg.task}.json")
    write_text_atomic(_markdown(report), out / f"{cfg.task}.md")
    return report


def _markdown(report: dict) -> str:
    lines = [f"# Model selection: {report['task']}", "", f"Chosen on {report['criterion']}.", "",
             "| run | architecture | weights | input px | epochs | CPU train min | params | val log-loss "
             "| val accuracy |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["candidates"]:
        lines.append(f"| {r['run']} | {r['model']} | {r['weights']} | {r['image_size']} | {r['epochs_run']} | "
                     f"{r['train_minutes']} | {r['params']:,} | {r['val_log_loss']:.3f} | "
                     f"{r['val_accuracy']:.3f} (n={r['val_n']}) |")
    t = report["winner_test"]
    lo, hi = t["ci95"]
    lines += ["", f"Served: **{report['winner']}**. Test accuracy (reported for the served model only; "
              "training.train_classifier prints every run's test accuracy when it ends, so the test split was seen "
              "for each candidate, but never used to choose): "
              f"{t['accuracy']:.3f} (95 % Wilson CI {lo:.3f}-{hi:.3f}, n={t['n']}); recall per class: "
              + ", ".join(f"{c} {v:.3f}" for c, v in t["per_class_recall"].items()) + ".",
              "", f"Command: `{report['command']}`", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry."""
    return run(SelectConfig, select, argv, module=MODULE, description="Pick the served model on validation.",
               report=lambda cfg, r: f"{cfg.task}: serve {r['winner']} (test accuracy "
                                     f"{r['winner_test']['accuracy']:.3f})")


if __name__ == "__main__":
    main()
