"""The GAN gallery's data: which generators exist, what their cards mean in plain words, sampling, interpolation.

Layout (written by ``training.train_gan``): ``models/<task>/gan/<class>.keras`` with its card
``<class>.card.json``, a pre-rendered ``<class>_grid.png`` and the memorisation check
``<class>_closest.png``; the augmentation experiment's results in
``results/gan_augmentation/<task>_<mode>.json``. A task without them simply has no gallery.
TensorFlow is imported only when a generator is loaded or run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core import paths
from core.tasks import get_task

GAN_FOLDER = "gan"
#: Where the augmentation experiment's results are committed.
EXPERIMENT_FOLDER = ("results", "gan_augmentation")
MODE_WORDS = {"add": "adding synthetic images to every class", "balance": "topping up the smaller classes"}


@dataclass(frozen=True)
class GanAssets:
    """What exists for one class of one task.

    Attributes:
        class_id: the class the generator imitates.
        generator: the generator's ``.keras`` file, if trained.
        grid: the pre-rendered sample grid, if rendered.
        card: the generator's card (dict), if present.
        closest: the closest generated/training pairs PNG, if present.
    """

    class_id: str
    generator: Path | None
    grid: Path | None
    card: dict | None
    closest: Path | None = None


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _file(path: Path) -> Path | None:
    return path if path.is_file() else None


def gan_assets(task_id: str) -> dict[str, GanAssets]:
    """Generators and grids of a task, per class in task order; only classes with something.

    Args:
        task_id: the task.

    Returns:
        class id -> GanAssets (empty when the task has no GAN output at all).
    """
    task = get_task(task_id)
    folder = paths.task_models_dir(task.id) / GAN_FOLDER
    found = {}
    for class_id in task.classes:
        card = _read_json(folder / f"{class_id}.card.json")
        assets = GanAssets(class_id, _file(folder / f"{class_id}.keras"), _file(folder / f"{class_id}_grid.png"),
                           card, _file(folder / f"{class_id}_closest.png"))
        if assets.generator or assets.grid:
            found[class_id] = assets
    return found


def load_generator(path: str | Path) -> Any:
    """Load a generator safely, refusing one without its card or whose sha256 differs from the card's.

    Raises:
        core.serving.errors.ModelIntegrityError: missing card, modified or unloadable file.
    """
    from core.gan.generation import load_generator as load

    return load(path)[0]


def generate_samples(generator: Any, n: int, seed: int) -> list[np.ndarray]:
    """``n`` synthetic images, reproducible for a seed, as uint8 HxWx3 arrays."""
    from core.gan.generation import generate_samples as sample

    return sample(generator, n, seed)


def interpolate(generator: Any, seed_a: int, seed_b: int, steps: int) -> list[np.ndarray]:
    """``steps`` images on the latent path between the points of two seeds (see core.gan.generation.interpolate)."""
    from core.gan.generation import interpolate as path

    return path(generator, seed_a, seed_b, steps)


def _realism(q: dict) -> str | None:
    fid, ref = q.get("fid"), q.get("reference_fid")
    if fid is None or not ref:
        return None
    figures = f"(FID {fid:.0f} vs {ref:.0f} for new real scans of this class; lower is closer)"
    if fid <= 1.5 * ref:
        return f"Samples look about as close to the real training scans as new real scans do {figures}."
    if fid <= 3 * ref:
        return f"Samples are recognisably scan-like but less realistic than real scans {figures}."
    return f"Samples are far from real scans; treat them as rough sketches {figures}."


def _variety(q: dict) -> str | None:
    gen, real = q.get("ms_ssim_generated"), q.get("ms_ssim_real")
    if gen is None or real is None:
        return None
    figures = f"(similarity between samples {gen:.2f} vs {real:.2f} between real scans; 1 = identical)"
    if gen <= real + 0.1:
        return f"Samples are about as varied as real scans {figures}."
    if gen >= 0.9:
        return f"Samples are nearly all alike: the generator repeats itself (mode collapse) {figures}."
    return f"Samples are less varied than real scans {figures}."


def _copies(q: dict) -> str | None:
    fraction = q.get("memorised_fraction")
    if fraction is None:
        return None
    if fraction == 0:
        return "No sample is a copy of a training image (none is closer to one than real scans are to each other)."
    return (f"{fraction:.0%} of samples are closer to a training image than real scans are to each other: "
            "possible copies; see the closest pairs below.")


def plain_words(card: dict | None) -> list[str]:
    """The card's quality figures as sentences a clinician can read (empty when the card has none).

    Args:
        card: a generator card (``quality`` from ``core.gan.protocol``).

    Returns:
        Sentences on what it learnt from, realism, variety and copying.
    """
    card = card or {}
    q = card.get("quality") or {}
    data = card.get("training_data") or {}
    sentences = [s for s in (_realism(q), _variety(q), _copies(q)) if s]
    if sentences and card.get("epochs"):
        sentences.insert(0, f"Learnt from {card.get('n_real_images', '?')} {data.get('kind', 'unknown')} training "
                            f"images of {data.get('dataset', 'an unnamed dataset')} for {card['epochs']} epochs.")
    return sentences


def quality_summary(card: dict | None) -> str | None:
    """All of :func:`plain_words` in one paragraph, or None when the card has no figures."""
    words = plain_words(card)
    return " ".join(words) if words else None


def experiment_verdicts(task_id: str, results_dir: str | Path | None = None) -> list[str]:
    """Whether synthetic images helped this task's classifier, one sentence per experiment mode run.

    Args:
        task_id: the task.
        results_dir: folder of ``<task>_<mode>.json`` (default ``results/gan_augmentation`` in the project).

    Returns:
        Sentences such as "Adding synthetic images ...: does not help the classifier: +0.4 points, 95 % CI ...".
    """
    folder = Path(results_dir) if results_dir else paths.REPO_ROOT.joinpath(*EXPERIMENT_FOLDER)
    out = []
    for path in sorted(folder.glob(f"{task_id}_*.json")):
        result = _read_json(path) or {}
        ci, diff = result.get("ci95"), result.get("mean_difference")
        if ci is None or diff is None:
            continue
        ran = f"{result.get('folds')} folds x {len(result.get('seeds', []))} seed(s)"
        baseline = ((result.get("comparison") or {}).get("accuracy") or {}).get("real_mean")
        if baseline is not None:
            ran += f"; {result.get('model', 'the')} classifier at {baseline:.0%} accuracy without them"
        sentence = (f"{MODE_WORDS.get(result.get('mode'), result.get('mode', '?')).capitalize()} {_helps(ci)} the "
                    f"classifier: {_points(diff, ci)} ({ran}; real test images).")
        against = (((result.get("control") or {}).get("comparison") or {}).get("accuracy") or {})
        if against.get("ci95") is not None and against.get("mean_difference") is not None:
            figures = _points(against["mean_difference"], against["ci95"])
            better = ("do better" if against["ci95"][0] > 0 else
                      "do worse" if against["ci95"][1] < 0 else "do no better")
            sentence += (f" Compared with adding as many copies of real training images instead, synthetic images "
                         f"{better}: {figures}.")
        out.append(sentence)
    return out


def _helps(ci: Sequence[float]) -> str:
    """"helps" when the whole interval is above zero, "makes it worse" when below, else "does not help"."""
    return "helps" if ci[0] > 0 else ("makes it worse" if ci[1] < 0 else "does not help")


def _points(diff: float, ci: Sequence[float]) -> str:
    return f"{diff * 100:+.1f} points accuracy, 95 % CI {ci[0] * 100:+.1f} to {ci[1] * 100:+.1f}"
