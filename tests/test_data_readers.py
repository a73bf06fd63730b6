"""Dataset readers: the four public layouts as published, and plain class folders."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data import LAYOUTS, DatasetError, detect_layout, read_dataset
from core.phantoms import write_dataset
from core.tasks import TASKS


def _write(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    # cv2 picks the codec from the extension; write via a lower-case twin for odd cases.
    ok, data = cv2.imencode(path.suffix.lower(), image)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _names(df, root: Path) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in df["path"]]


def _skipped(df, root: Path) -> dict[str, str]:
    return {Path(p).relative_to(root).as_posix(): reason for p, reason in df.attrs["skipped"]}


def test_kaggle_brain_mri_reads_training_and_testing_with_their_source(tmp_path):
    for i, rel in enumerate(["Training/glioma/Tr-gl_0001.jpg", "Training/pituitary/Tr-pi_0002.jpg",
                             "Testing/meningioma/Te-me_0001.jpg", "Testing/notumor/Te-no_0003.jpg"]):
        _write(tmp_path / rel, i)
    (tmp_path / "README.txt").write_text("about")
    df = read_dataset(tmp_path, "brain_mri_4class")
    assert df.attrs["layout"] == "kaggle_brain_mri"
    assert list(df.columns) == ["path", "label", "subject", "source"]
    assert _names(df, tmp_path) == ["Testing/meningioma/Te-me_0001.jpg", "Testing/notumor/Te-no_0003.jpg",
                                    "Training/glioma/Tr-gl_0001.jpg", "Training/pituitary/Tr-pi_0002.jpg"]
    assert list(df["label"]) == ["meningioma", "notumor", "glioma", "pituitary"]
    assert list(df["source"]) == ["Testing", "Testing", "Training", "Training"]
    assert set(df["subject"]) == {""}
    assert "README.txt" in _skipped(df, tmp_path)


def test_br35h_reads_mixed_case_folders_names_with_spaces_and_extensions(tmp_path):
    base = tmp_path / "brain_tumor_dataset"
    for i, rel in enumerate(["Yes/Y1.jpg", "Yes/Y2.JPG", "Yes/y 3.jpeg", "NO/no 1.jpg", "NO/No12.png",
                             "NO/N5.JPEG"]):
        _write(base / rel, i)
    (base / "NO" / "Thumbs.db").write_bytes(b"\0")
    df = read_dataset(tmp_path, "brain_mri_binary")
    assert df.attrs["layout"] == "br35h"
    assert df["label"].value_counts().to_dict() == {"no": 3, "yes": 3}
    assert "NO/no 1.jpg" in _names(df, base)
    assert "not an image file" in _skipped(df, base)["NO/Thumbs.db"]


def test_busi_excludes_every_mask_and_accepts_the_folder_or_its_parent(tmp_path):
    base = tmp_path / "Dataset_BUSI_with_GT"
    for cls in ("benign", "malignant"):
        _write(base / cls / f"{cls} (1).png")
        _write(base / cls / f"{cls} (1)_mask.png")
        _write(base / cls / f"{cls} (1)_mask_1.png")
    _write(base / "normal" / "normal (1).png")
    _write(base / "normal" / "normal (1)_mask.png")
    for root in (tmp_path, base):
        df = read_dataset(root, "breast_us")
        assert df.attrs["layout"] == "busi"
        assert _names(df, base) == ["benign/benign (1).png", "malignant/malignant (1).png",
                                    "normal/normal (1).png"]
        masks = [p for p, reason in _skipped(df, base).items() if "mask" in reason]
        assert len(masks) == 5


def test_cnmc_parses_subjects_and_folds(tmp_path):
    base = tmp_path / "C-NMC_training_data"
    _write(base / "fold_0" / "all" / "UID_11_10_1_all.bmp")
    _write(base / "fold_0" / "hem" / "UID_H10_43_1_hem.bmp")
    _write(base / "fold_1" / "all" / "UID_7_2_3_all.bmp")
    _write(base / "fold_1" / "all" / "cell.bmp")  # not a C-NMC name
    _write(base / "fold_1" / "hem" / "UID_H3_1_1_all.bmp")  # name contradicts folder
    for root in (tmp_path, base):
        df = read_dataset(root, "blood_smear")
        assert df.attrs["layout"] == "cnmc"
        assert list(df["subject"]) == ["11", "H10", "7"]
        assert list(df["source"]) == ["fold_0", "fold_0", "fold_1"]
        assert list(df["label"]) == ["all", "hem", "all"]
        skipped = _skipped(df, base)
        assert "UID_<subject>" in skipped["fold_1/all/cell.bmp"]
        assert "folder" in skipped["fold_1/hem/UID_H3_1_1_all.bmp"]


@pytest.mark.parametrize("task_id", list(TASKS))
def test_generic_class_folders_work_for_every_task(tmp_path, task_id):
    task = TASKS[task_id]
    for i, cls in enumerate(task.classes):
        _write(tmp_path / cls.upper() / f"img_{i}.png", i)  # folder case does not matter
    _write(tmp_path / "unlabelled" / "x.png")
    df = read_dataset(tmp_path, task_id, layout="class_folders")
    assert list(df["label"]) == list(task.classes)
    assert "not a class" in _skipped(df, tmp_path)["unlabelled"]


def test_unknown_class_folder_is_skipped_and_reported_not_an_error(tmp_path, caplog):
    _write(tmp_path / "yes" / "a.png")
    _write(tmp_path / "no" / "b.png")
    _write(tmp_path / "maybe" / "c.png")
    with caplog.at_level(logging.INFO, logger="core.data.readers"):
        df = read_dataset(tmp_path, "brain_mri_binary")
    assert len(df) == 2
    assert "maybe" in _skipped(df, tmp_path)
    assert "Read 2 images" in caplog.text and "skipped 1" in caplog.text


def test_output_is_sorted_and_deterministic(tmp_path):
    for i in (3, 1, 2):
        _write(tmp_path / "hem" / f"c{i}.png", i)
        _write(tmp_path / "all" / f"c{i}.png", i)
    a, b = read_dataset(tmp_path, "blood_smear"), read_dataset(tmp_path, "blood_smear")
    assert a.equals(b)
    assert list(a["path"]) == sorted(a["path"])


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_dataset(tmp_path / "nowhere", "breast_us")


def test_folder_without_images_names_the_layouts_tried_and_valid_examples(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError) as error:
        read_dataset(tmp_path, "breast_us")
    message = str(error.value)
    assert "No images for task 'breast_us'" in message
    assert all(name in message for name in LAYOUTS)
    assert "Dataset_BUSI_with_GT/benign/benign (1).png" in message


def test_a_dataset_of_another_task_says_why_nothing_matched(tmp_path):
    _write(tmp_path / "Training" / "glioma" / "Tr-gl_0001.jpg")
    with pytest.raises(DatasetError, match="not a class of task 'breast_us'"):
        read_dataset(tmp_path, "breast_us")


def test_unknown_forced_layout_is_rejected(tmp_path):
    with pytest.raises(DatasetError, match="Unknown dataset layout"):
        read_dataset(tmp_path, "breast_us", layout="imagenet")


def test_layout_detection_order_prefers_the_specific_layout(tmp_path):
    _write(tmp_path / "Training" / "glioma" / "a.jpg")
    assert detect_layout(tmp_path) == "kaggle_brain_mri"
    assert detect_layout(tmp_path / "Training") == "class_folders"


@pytest.mark.parametrize(
    "task_id, layout, sources",
    [("brain_mri_4class", "kaggle_brain_mri", {"Training", "Testing"}), ("brain_mri_binary", "br35h", {""}),
     ("breast_us", "busi", {""}), ("blood_smear", "cnmc", {"fold_0", "fold_1", "fold_2"})],
)
def test_phantom_datasets_in_the_public_layouts_read_back_completely(tmp_path, task_id, layout, sources):
    root = write_dataset(task_id, tmp_path / "written", per_class=5, seed=0, size=32)
    df = read_dataset(tmp_path / "written", task_id)  # the parent folder, as a user would point
    assert df.attrs["layout"] == layout
    assert df["label"].value_counts().to_dict() == {c: 5 for c in TASKS[task_id].classes}
    assert set(df["source"]) == sources
    assert not any("mask" in Path(p).name.lower() for p in df["path"])
    assert read_dataset(root, task_id).equals(df)
    if task_id == "blood_smear":
        assert (df["subject"] != "").all()
        assert df.groupby("subject")["label"].nunique().max() == 1
