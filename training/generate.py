"""Synthetic images from trained per-class generators, marked so they are never taken for real ones.

    python -m training.generate --task brain_mri_binary --out data/synthetic --n 200 --seed 0

Writes ``<out>/<class>/syn_<class>_<seed>_<index>.png`` (a class-per-folder layout core.data reads).
Every file is named ``syn_...`` and carries PNG text metadata ``synthetic=true``,
``generator_sha256``, ``seed``, ``index``, ``task`` and ``class``; ``core.io.read_image`` reports
such a file as synthetic. A file that exists and is *not* marked synthetic is never overwritten.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

from core import paths
from core.gan.generation import load_generator, synthetic_name, write_synthetic_pngs
from core.io import InvalidImageError, is_synthetic
from core.serving.errors import ModelIntegrityError
from core.tasks import get_task
from training.cli import run
from training.config import ConfigError
from training.gan_config import GenerateConfig

log = logging.getLogger(__name__)
MODULE = "training.generate"

#: Folder below ``<models_dir>/<task>`` holding the generators (the app's gallery looks there too).
GAN_FOLDER = "gan"


def generators_dir(task_id: str, models_dir: str | os.PathLike | None = None) -> Path:
    """``<models_dir>/<task>/gan``, where train_gan saves generators by default."""
    return (Path(models_dir) if models_dir else paths.MODELS_DIR) / task_id / GAN_FOLDER


def _check_targets(targets: Sequence[Path]) -> None:
    """Refuse before writing anything if a target exists and is not a synthetic image."""
    for target in targets:
        if not target.exists():
            continue
        try:
            marked = target.is_file() and is_synthetic(target)
        except InvalidImageError:
            marked = False
        if not marked:
            raise ConfigError(f"Refusing to overwrite {target}: it exists and is not marked as a synthetic image. "
                              "Choose an empty output folder or move that file.")


def write_class_images(generator, task_id: str, class_id: str, n: int, out: str | os.PathLike, seed: int,
                       generator_sha256: str, batch_size: int = 64) -> list[Path]:
    """Generate ``n`` images of one class into ``<out>/<class>/``, each named and marked synthetic.

    Args:
        generator: a trained DCGAN generator (keras.Model).
        task_id: the task (recorded in each file).
        class_id: the class the generator imitates.
        n: number of images.
        out: root folder of the class-per-folder output.
        seed: seed of the latent vectors (recorded in each file and its name).
        generator_sha256: sha256 of the generator file (recorded in each file).
        batch_size: images per forward pass.

    Returns:
        Paths written, in index order.

    Raises:
        ConfigError: a target exists and is not a synthetic image (nothing is written then).
    """
    from core.models.dcgan import generate as sample

    task = get_task(task_id)
    folder = Path(out) / class_id
    targets = [folder / synthetic_name(class_id, seed, i) for i in range(n)]
    _check_targets(targets)
    images = sample(generator, n, seed=seed, batch_size=batch_size)
    return write_synthetic_pngs(images, targets, {"generator_sha256": generator_sha256, "seed": seed,
                                                  "task": task.id, "class": class_id})


def find_generators(task_id: str, folder: str | os.PathLike, classes: Sequence[str] | None = None) -> dict[str, dict]:
    """The generators of a task in ``folder``: class -> {"path", "card"} (card None when absent).

    Raises:
        ConfigError: a requested class has no generator file.
    """
    task = get_task(task_id)
    folder = Path(folder)
    wanted = list(classes) if classes else list(task.classes)
    found = {}
    for class_id in wanted:
        path = folder / f"{class_id}.keras"
        if not path.is_file():
            if classes:
                raise ConfigError(f"No generator for class '{class_id}' in {folder}; train it first: python -m "
                                  f"training.train_gan --task {task.id} --class-id {class_id} --data <dataset>.")
            continue
        card_path = folder / f"{class_id}.card.json"
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else None
        found[class_id] = {"path": path, "card": card}
    if not found:
        raise ConfigError(f"No generators for task '{task.id}' in {folder}; train them first with "
                          "python -m training.train_gan.")
    return found


def generate(cfg: GenerateConfig) -> dict:
    """Write ``cfg.n`` synthetic images per class.

    Args:
        cfg: the generation config.

    Returns:
        ``out`` (folder), ``classes`` (class -> {"n", "generator", "generator_sha256", "folder"}).
    """
    cfg.validate()
    folder = Path(cfg.generators) if cfg.generators else generators_dir(cfg.task, cfg.models_dir)
    result = {"out": str(cfg.out), "seed": cfg.seed, "classes": {}}
    for class_id, found in find_generators(cfg.task, folder, cfg.classes).items():
        try:
            generator, card = load_generator(found["path"])
        except ModelIntegrityError as exc:
            raise ConfigError(str(exc)) from None
        digest = card["sha256"]
        written = write_class_images(generator, cfg.task, class_id, cfg.n, cfg.out, cfg.seed, digest, cfg.batch_size)
        result["classes"][class_id] = {"n": len(written), "generator": str(found["path"]),
                                       "generator_sha256": digest, "folder": str(Path(cfg.out) / class_id)}
    return result


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), generate, print a summary."""
    return run(GenerateConfig, generate, argv, module=MODULE,
               description="Write synthetic images per class from trained generators, marked as synthetic.",
               report=lambda cfg, result: "\n".join(f"{class_id}: {info['n']} synthetic images in {info['folder']}"
                                                     for class_id, info in result["classes"].items()))


if __name__ == "__main__":
    main()
