"""Export the images clinicians kept, labelled by their answers, as a dataset the training scripts read.

    python -m training.export_feedback --task brain_mri_4class --out data/feedback-mri
    python -m training.train_classifier --task brain_mri_4class --data data/feedback-mri

Only entries whose image was kept ("keep the image for retraining") and whose answer is a class of
the task are exported: agreed cases under the model's class, corrected cases under the clinician's.
"Not this modality" and "poor image quality" answers are not training data. An image answered with
two different classes (two clinicians, or two models) is left out and listed as a conflict.
Writes ``<out>/<class>/<pixel digest>.png`` (core.data's class-per-folder layout) and
``<out>/feedback_manifest.json`` (digests, models, answers, dates; no names, no identifiers).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.atomic import atomic_write
from core.feedback import FeedbackError, FeedbackStore
from core.tasks import TASKS, get_task
from training.cli import run
from training.config import ConfigError

MODULE = "training.export_feedback"
MANIFEST = "feedback_manifest.json"


@dataclass
class ExportFeedbackConfig:
    """Which task's kept images to export, where, and from which database."""

    task: str = field(default=None, metadata={"help": "task id from core.tasks", "choices": tuple(TASKS)})
    out: str = field(default=None, metadata={"help": "new or empty folder to write the dataset into"})
    db_url: str | None = field(default=None, metadata={
        "help": "feedback database URL (default: $MEDIMG_DB_URL, else the SQLite file of core.paths)"})

    def validate(self) -> ExportFeedbackConfig:
        """Check the flags; returns self."""
        if not self.task or not self.out:
            raise ConfigError("Pass both --task and --out (a new or empty folder).")
        out = Path(self.out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ConfigError(f"'{out}' is not an empty folder: choose a new one, so no old image is mixed in.")
        return self


def _labelled(store: FeedbackStore, task_id: str) -> tuple[dict[str, list], list[dict]]:
    """Kept entries grouped by image digest, and the images whose answers disagree."""
    by_image: dict[str, list] = defaultdict(list)
    for entry, png in store.kept_images(task_id, answers=get_task(task_id).classes):
        by_image[entry["image_sha256"]].append((entry, png))
    conflicts = [{"image_sha256": digest, "answers": sorted({e["answer"] for e, _ in items}),
                  "entry_ids": [e["id"] for e, _ in items]}
                 for digest, items in by_image.items() if len({e["answer"] for e, _ in items}) > 1]
    for conflict in conflicts:
        del by_image[conflict["image_sha256"]]
    return by_image, conflicts


def export(cfg: ExportFeedbackConfig) -> dict[str, Any]:
    """Write the kept, labelled feedback images of one task in class-per-folder layout, with a manifest.

    Args:
        cfg: the validated config.

    Returns:
        The manifest (also written to ``<out>/feedback_manifest.json``).

    Raises:
        FeedbackError: the database cannot be read, or holds no kept image for the task.
    """
    task = get_task(cfg.task)
    out = Path(cfg.out)
    by_image, conflicts = _labelled(FeedbackStore(cfg.db_url), task.id)
    if not by_image:
        raise FeedbackError(f"No kept image with a class answer for task '{task.id}' in the feedback database"
                            + (f" ({len(conflicts)} left out for conflicting answers)." if conflicts else "."))
    images = []
    for digest, items in sorted(by_image.items()):
        latest, png = max(items, key=lambda item: item[0]["id"])
        relative = f"{latest['answer']}/{digest[:24]}.png"
        with atomic_write(out / relative) as fh:
            fh.write(png)
        images.append({
            "file": relative, "class": latest["answer"], "image_sha256": digest,
            "png_sha256": hashlib.sha256(png).hexdigest(), "agreed": all(e["agreed"] for e, _ in items),
            "models": sorted({f"{e['model_name']}@{e['model_sha256'][:12]}" for e, _ in items}),
            "model_answers": sorted({e["model_answer"] for e, _ in items}),
            "entry_ids": sorted(e["id"] for e, _ in items),
            "recorded_at": latest["created_at"].isoformat(),
        })
    counts: dict[str, int] = defaultdict(int)
    for image in images:
        counts[image["class"]] += 1
    manifest = {
        "kind": "clinician-feedback", "task": task.id, "exported_at": datetime.now(timezone.utc).isoformat(),
        "layout": "class_folders", "per_class": {c: counts.get(c, 0) for c in task.classes},
        "corrected": sum(not i["agreed"] for i in images), "agreed": sum(i["agreed"] for i in images),
        "images": images, "conflicts": conflicts,
    }
    with atomic_write(out / MANIFEST, "w") as fh:
        json.dump(manifest, fh, indent=2)
    return manifest


def _summary(cfg: ExportFeedbackConfig, manifest: dict[str, Any]) -> str:
    per_class = ", ".join(f"{c} {n}" for c, n in manifest["per_class"].items())
    return (f"{len(manifest['images'])} images ({manifest['agreed']} agreed, {manifest['corrected']} corrected; "
            f"{per_class}) written to {cfg.out}; {len(manifest['conflicts'])} left out for conflicting answers")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry: parse flags, export, print what was written (errors as one sentence, status 2)."""
    return run(ExportFeedbackConfig, export, argv, module=MODULE,
               description="Export kept clinician-feedback images as a class-per-folder dataset.",
               report=_summary, errors=(FeedbackError,))


if __name__ == "__main__":
    main()
