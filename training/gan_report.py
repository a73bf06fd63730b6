"""The GAN-augmentation experiment's Markdown report: the verdict first, then what was run, then the figures."""

from __future__ import annotations

REAL, AUGMENTED = "real only", "real + synthetic"
#: The control arm: as many extra images per class as the synthetic arm gets, duplicated from the class's
#: own real training images. It separates "more / rebalanced images" from "new images the GAN made".
CONTROL = "real + duplicated real"


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(ci: list[float] | None) -> str:
    return "n/a" if ci is None else f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def _what_was_run(result: dict) -> list[str]:
    design = result["design"]
    ran = (f"{result['folds']} of {design['folds']} folds x {len(result['seeds'])} seed(s) "
           f"({', '.join(map(str, result['seeds']))})")
    planned = f"{design['folds']} folds x {design['seeds_per_fold']} seeds"
    lines = [f"**What was run:** {ran}; designed as {planned}."]
    if not result.get("complete"):
        lines.append("**The experiment had not finished when this report was written: figures cover the runs listed.**")
    gan, clf = design["gan"], design["classifier"]
    lines += ["", f"- Cross-validation: {design['cv']}, split seed {design['split_seed']}; both arms are scored on "
                  "the same real test images of each fold; validation is real in both arms.",
              f"- Generators: {design['generators']}; DCGAN {gan['size']} px, {gan['epochs']} epochs, "
              f"batch {gan['batch_size']}.",
              f"- Classifier (both arms): `{clf['model']}`, {clf['image_size']} px, {clf['epochs']} epochs, "
              f"batch {clf['batch_size']}, initial weights {clf['weights']}.",
              f"- Synthetic images in mode `{result['mode']}` are added to the training part only.",
              f"- Data: `{result['data']}` ({result['n_images']} images"
              + (f", a seeded subset of at most {result['limit_per_class']} per class" if result.get("limit_per_class")
                 else "") + f"), file-list digest `{result['data_digest']}`.",
              f"- Command: `{result['command']}`"]
    return lines


def to_markdown(result: dict) -> str:
    """The report: verdict, what was run, the paired comparison per metric, then accuracy per fold and seed."""
    lines = [f"# DCGAN augmentation ({result['mode']}): `{result['model']}` on `{result['task']}`", ""]
    if result.get("verdict"):
        lines += [f"**{result['verdict']['sentence']}**", ""]
    lines += _what_was_run(result)
    lines += ["", "Paired comparison over folds (seeds averaged within each fold; difference = synthetic - real):", "",
              f"| metric | {REAL} | {AUGMENTED} | mean difference | 95 % CI | paired t p | Wilcoxon p |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, c in (result.get("comparison") or {}).items():
        diff = "n/a" if c["mean_difference"] is None else f"{c['mean_difference']:+.3f}"
        lines.append(f"| {name} | {_f(c['real_mean'])} | {_f(c['augmented_mean'])} | {diff} | {_ci(c['ci95'])} | "
                     f"{_f(c['p_value'], 3)} | {_f(c['p_value_wilcoxon'], 3)} |")
    control = result.get("control")
    if control:
        lines += ["", f"Control: the same number of extra images per class, duplicated from the class's own real "
                      f"training images (`{CONTROL}`), against the synthetic arm "
                      "(difference = synthetic - duplicated):", ""]
        if control.get("verdict"):
            lines += [f"**{control['verdict']['sentence']}**", ""]
        lines += [f"| metric | {CONTROL} | {AUGMENTED} | mean difference | 95 % CI | paired t p | Wilcoxon p |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, c in (control.get("comparison") or {}).items():
            diff = "n/a" if c["mean_difference"] is None else f"{c['mean_difference']:+.3f}"
            lines.append(f"| {name} | {_f(c['real_mean'])} | {_f(c['augmented_mean'])} | {diff} | {_ci(c['ci95'])} "
                         f"| {_f(c['p_value'], 3)} | {_f(c['p_value_wilcoxon'], 3)} |")
    arms = [REAL, AUGMENTED] + ([CONTROL] if control else [])
    lines += ["", "Accuracy per fold and seed:", "", f"| fold | seed | {' | '.join(arms)} | synthetic added |",
              "|---:|---:|" + "---:|" * len(arms) + "---|"]
    for fold in result["per_fold"]:
        added = ", ".join(f"{c} +{n}" for c, n in fold["synthetic_per_class"].items())
        for run in fold["runs"]:
            cells = " | ".join(_f(run[arm]["accuracy"]) if arm in run else "n/a" for arm in arms)
            lines.append(f"| {fold['fold']} | {run['seed']} | {cells} | {added} |")
    return "\n".join(lines) + "\n"
