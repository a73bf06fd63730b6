"""A public dataset and further folders of the same task (e.g. exported clinician feedback) train together."""

from __future__ import annotations

import shutil

from training import datasets
from training.config import TrainConfig


def test_extra_folders_are_read_split_and_named_in_the_card(phantom_dataset, tmp_path):
    public = phantom_dataset("brain_mri_binary", per_class=10, size=48)
    feedback = tmp_path / "feedback_export"
    other = phantom_dataset("brain_mri_binary", per_class=4, size=64)
    for label in ("no", "yes"):
        (feedback / label).mkdir(parents=True)
        for image in sorted(p for p in (other / label).iterdir() if p.is_file())[:4]:
            shutil.copy(image, feedback / label / image.name)
    copied = sum(1 for p in feedback.rglob("*") if p.is_file())
    cfg = TrainConfig(task="brain_mri_binary", data=str(public), extra_data=[str(feedback)], kind="real",
                      val_fraction=0.25, test_fraction=0.25).validate()
    data = datasets.prepare_data(cfg)
    section = data.training_data
    assert copied == 8 and section["images_read"] == 20 + copied
    assert sum(data.split_sizes.values()) + section["duplicates_dropped"] == 20 + copied
    assert section["extra_roots"] == ["feedback_export"] or section["extra_roots"][0].endswith("feedback_export")
    used = set().union(*(set(df["path"]) for df in data.splits.values()))
    assert any("feedback_export" in path for path in used)
