"""Copies of one picture never straddle splits, and every image read is accounted for."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from core.data import duplicates, read_dataset
from training import datasets
from training.config import TrainConfig


def _folder_with_copies(tmp_path, per_class=12):
    rng = np.random.default_rng(0)
    root = tmp_path / "ds"
    for label in ("no", "yes"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = (rng.random((64, 64)) * 255).astype(np.uint8)
            Image.fromarray(pixels).resize((128, 128)).save(root / label / f"{label}{i}.png")
    # an exact copy, a re-encoded copy (JPEG) and a copy under the other label (ambiguous)
    shutil.copy(root / "yes" / "yes0.png", root / "yes" / "yes0 copy.png")
    Image.open(root / "yes" / "yes1.png").convert("RGB").save(root / "yes" / "yes1.jpg", quality=90)
    shutil.copy(root / "no" / "no2.png", root / "yes" / "mislabelled.png")
    return root


def test_copies_share_a_group_and_ambiguous_copies_are_dropped(tmp_path):
    df = read_dataset(_folder_with_copies(tmp_path), "brain_mri_binary")
    grouped, summary = duplicates.group_duplicates(df)
    subject = dict(zip(grouped["path"].map(lambda p: p.split("/")[-1]), grouped["subject"]))
    assert subject["yes0.png"] == subject["yes0 copy.png"] != ""
    assert subject["yes1.png"] == subject["yes1.jpg"] != ""
    assert "no2.png" not in subject and "mislabelled.png" not in subject
    assert summary.dropped_label_conflicts == 2
    assert len(df) == len(grouped) + summary.dropped_label_conflicts


def test_no_copy_lands_in_two_splits_and_the_card_counts_images(tmp_path):
    root = _folder_with_copies(tmp_path)
    cfg = TrainConfig(task="brain_mri_binary", data=str(root), val_fraction=0.25, test_fraction=0.25).validate()
    data = datasets.prepare_data(cfg)
    section = data.training_data
    assert section["images_read"] == 27
    assert section["duplicates_dropped"] == 2  # images, not pairs
    assert sum(data.split_sizes.values()) + section["duplicates_dropped"] == section["images_read"]
    assert duplicates.find_cross_split_duplicates(data.splits).empty
    assert section["images_per_class"] == {"no": 11, "yes": 14}
    assert len(section["file_list_sha256"]) == 64


def test_the_file_list_digest_names_contents_not_paths(tmp_path):
    root = _folder_with_copies(tmp_path)
    files = sorted(str(p) for p in root.rglob("*.png"))
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    same = sorted(str(p) for p in moved.rglob("*.png"))
    assert datasets.file_list_digest(files) == datasets.file_list_digest(same)
    assert datasets.file_list_digest(files) != datasets.file_list_digest(files[1:])


def test_cards_never_hold_an_absolute_dataset_path(tmp_path):
    assert not datasets.portable_path(tmp_path / "somewhere" / "busi").startswith("/")


def test_phantom_splits_keep_their_val_and_test_images(phantom_dataset):
    root = phantom_dataset("brain_mri_4class", per_class=30, size=64)
    cfg = TrainConfig(task="brain_mri_4class", data=str(root)).validate()
    data = datasets.prepare_data(cfg)
    assert data.training_data["duplicates_dropped"] <= 2
    assert data.split_sizes["test"] >= 0.13 * data.training_data["images_read"]


@pytest.mark.realdata
@pytest.mark.parametrize("task_id, total, per_class", [
    ("brain_mri_4class", 5708, {"glioma": 1321, "meningioma": 1339, "notumor": 1591, "pituitary": 1457}),
    ("brain_mri_binary", 2563, {"no": 1275, "yes": 1288}),
    ("breast_us", 626, {"benign": 351, "malignant": 162, "normal": 113}),
])
def test_the_real_layouts_are_read_as_published(real_data, task_id, total, per_class):
    df = read_dataset(real_data(task_id), task_id)
    assert len(df) == total
    assert df["label"].value_counts().to_dict() == per_class
    assert not df["path"].str.contains("_mask").any()


@pytest.mark.realdata
@pytest.mark.parametrize("task_id", ["brain_mri_binary", "breast_us"])
def test_real_splits_hold_no_copy_across_them(real_data, task_id):
    cfg = TrainConfig(task=task_id, data=str(real_data(task_id))).validate()
    data = datasets.prepare_data(cfg)
    assert duplicates.find_cross_split_duplicates(data.splits).empty
    assert sum(data.split_sizes.values()) + data.training_data["duplicates_dropped"] == \
        data.training_data["images_read"]
    assert data.training_data["root"].startswith("$MEDIMG_DATA/")
    assert data.training_data["citation"] and data.training_data["licence"]


def test_the_contact_sheet_shows_pairs_by_distance(tmp_path):
    from core.data import duplicate_sheet

    root = _folder_with_copies(tmp_path)
    out = duplicate_sheet.main(["--task", "brain_mri_binary", "--data", str(root), "--out", str(tmp_path / "s.png")])
    sheet = np.asarray(Image.open(out))
    assert sheet.shape[0] == len(duplicate_sheet.BANDS) * (duplicate_sheet.TILE + 4)
    assert sheet[: duplicate_sheet.TILE].any()  # distance 0: the exact copies are shown
