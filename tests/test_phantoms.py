"""Phantoms are the data every other test, demo model and benchmark uses: this is their contract."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.phantoms import (
    DIFFICULTIES,
    MANIFEST_NAME,
    Difficulty,
    contact_sheet,
    make_image,
    write_dataset,
    write_samples,
)
from core.phantoms.__main__ import main
from core.tasks import TASKS, UnknownTaskError

SMALL = 48
EASY = DIFFICULTIES["easy"]  # no label noise: every image shows its class


def _images(root: Path) -> list[Path]:
    """Every file the dataset's layout holds (the generator's manifest is not part of it)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in _images(root)}


def _files(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in _images(root)]


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# --- determinism -------------------------------------------------------------------------------

@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_same_seed_writes_byte_identical_files_and_another_seed_different_ones(task_id, tmp_path):
    a = _hashes(write_dataset(task_id, tmp_path / "a", 3, seed=7, size=SMALL))
    b = _hashes(write_dataset(task_id, tmp_path / "b", 3, seed=7, size=SMALL))
    c = _hashes(write_dataset(task_id, tmp_path / "c", 3, seed=8, size=SMALL))
    assert a and a == b
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if not k.endswith("_mask.png"))


def test_adding_images_does_not_change_the_ones_already_there(tmp_path):
    small = _hashes(write_dataset("brain_mri_binary", tmp_path / "s", 2, seed=3, size=SMALL))
    large = _hashes(write_dataset("brain_mri_binary", tmp_path / "l", 4, seed=3, size=SMALL))
    assert all(large[k] == v for k, v in small.items())


# --- the public layouts ------------------------------------------------------------------------

def test_kaggle_layout_puts_about_80_percent_in_training_with_class_codes(tmp_path):
    root = write_dataset("brain_mri_4class", tmp_path, 5, seed=0, size=SMALL)
    assert root == tmp_path
    files = _files(root)
    for cls, code in {"glioma": "gl", "meningioma": "me", "notumor": "no", "pituitary": "pi"}.items():
        assert [f for f in files if f.startswith(f"Training/{cls}/")] == [
            f"Training/{cls}/Tr-{code}_{i:04d}.jpg" for i in range(1, 5)]
        assert [f for f in files if f.startswith(f"Testing/{cls}/")] == [f"Testing/{cls}/Te-{code}_0001.jpg"]
    assert len(files) == 20


def test_br35h_layout_has_its_odd_names_spaces_mixed_case_and_extensions(tmp_path):
    root = write_dataset("brain_mri_binary", tmp_path, 5, seed=0, size=SMALL)
    names = {Path(f).name for f in _files(root)}
    assert {"Y1.jpg", "Y3.JPG", "Y5.jpeg", "no 1.jpg", "No2.jpg", "N3.jpg", "4 no.jpeg", "N5.JPG"} <= names
    assert sorted(p.name for p in root.iterdir() if p.name != MANIFEST_NAME) == ["no", "yes"]
    for path in _images(root):
        assert Image.open(path).format == "JPEG"


def test_busi_layout_writes_a_binary_mask_beside_every_image_and_a_second_lesion_mask(tmp_path):
    root = write_dataset("breast_us", tmp_path, 4, seed=0, size=SMALL, difficulty="easy")
    assert root == tmp_path / "Dataset_BUSI_with_GT"
    for cls in ("benign", "malignant", "normal"):
        for i in range(1, 5):
            image = _rgb(root / cls / f"{cls} ({i}).png")
            mask = np.asarray(Image.open(root / cls / f"{cls} ({i})_mask.png"))
            assert image.shape == (SMALL, SMALL, 3) and mask.shape == (SMALL, SMALL)
            assert set(np.unique(mask)) <= {0, 255}
            assert (mask.any()) == (cls != "normal")
    for cls in ("benign", "malignant"):
        second = np.asarray(Image.open(root / cls / f"{cls} (4)_mask_1.png"))
        assert second.any()
    assert not list(root.glob("normal/*_mask_1.png"))


def test_busi_images_vary_in_size_around_500_by_450_by_default(tmp_path):
    root = write_dataset("breast_us", tmp_path, {"benign": 2, "malignant": 0, "normal": 0}, seed=1)
    sizes = {Image.open(p).size for p in root.glob("benign/benign (?).png")}
    assert len(sizes) == 2
    for w, h in sizes:
        assert 400 <= h <= 500 and 400 <= w <= 650


def test_cnmc_names_carry_subject_and_class_and_each_subject_stays_in_one_fold(tmp_path):
    root = write_dataset("blood_smear", tmp_path, 10, seed=0, size=SMALL)
    assert root == tmp_path / "C-NMC_training_data"
    pattern = re.compile(r"UID_(H?\d+)_(\d+)_(\d+)_(all|hem)\.bmp")
    folds_of: dict[str, set[str]] = {}
    for path in root.rglob("*.bmp"):
        fold, cls = path.parts[-3], path.parts[-2]
        match = pattern.fullmatch(path.name)
        assert match and match.group(4) == cls and fold in {"fold_0", "fold_1", "fold_2"}
        subject = match.group(1)
        assert subject.startswith("H") == (cls == "hem")
        folds_of.setdefault(subject, set()).add(fold)
    assert all(len(f) == 1 for f in folds_of.values())
    assert {f for fs in folds_of.values() for f in fs} == {"fold_0", "fold_1", "fold_2"}
    assert sum(1 for _ in root.rglob("*.bmp")) == 20


def test_cnmc_cells_are_450_px_bmp_on_black_by_default(tmp_path):
    root = write_dataset("blood_smear", tmp_path, {"all": 1, "hem": 0}, seed=0)
    (path,) = root.rglob("*.bmp")
    image = Image.open(path)
    assert image.format == "BMP" and image.size == (450, 450)
    pixels = np.asarray(image)
    assert (pixels[:20, :20] == 0).all() and pixels[200:250, 200:250].mean() > 40


def test_imbalanced_per_class_counts_are_honoured(tmp_path):
    root = write_dataset("breast_us", tmp_path, {"benign": 10, "malignant": 1, "normal": 5}, seed=0, size=32)
    counts = {c: len([p for p in (root / c).glob("*.png") if "_mask" not in p.name])
              for c in ("benign", "malignant", "normal")}
    assert counts == {"benign": 10, "malignant": 1, "normal": 5}


def test_nothing_half_written_is_left_behind(tmp_path, monkeypatch):
    write_dataset("brain_mri_binary", tmp_path / "ok", 2, seed=0, size=SMALL)
    assert not [p for p in (tmp_path / "ok").rglob("*") if p.name.endswith(".tmp")]

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        write_dataset("brain_mri_binary", tmp_path / "bad", 1, seed=0, size=SMALL)
    assert not [p for p in (tmp_path / "bad").rglob("*") if p.is_file()]


# --- single images -----------------------------------------------------------------------------

@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_images_are_uint8_rgb_of_the_requested_size(task_id):
    task = TASKS[task_id]
    for label in task.classes:
        ph = make_image(task_id, label, np.random.default_rng(0), size=(40, 56))
        assert ph.image.dtype == np.uint8 and ph.image.shape == (40, 56, 3)
        assert ph.label == label
        assert (ph.mask is not None) == (task_id == "breast_us")


def test_head_box_contains_the_bright_skull_and_only_background_lies_outside():
    for i, label in enumerate(["glioma", "meningioma", "notumor", "pituitary"] * 2):
        ph = make_image("brain_mri_4class", label, np.random.default_rng(i), size=96)
        x0, y0, x1, y1 = ph.head_box
        assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 96
        gray = ph.image[..., 0].astype(float)
        inside = np.zeros_like(gray, bool)
        inside[y0:y1, x0:x1] = True
        bright = gray > np.percentile(gray, 97)
        assert bright[inside].sum() == bright.sum()
        assert gray[~inside].mean() < 25 if (~inside).any() else True
        assert (x1 - x0) > 40 and (y1 - y0) > 40


def test_unknown_task_and_label_and_bad_arguments_are_explained():
    rng = np.random.default_rng(0)
    with pytest.raises(UnknownTaskError, match="brain_mri_4class"):
        make_image("chest_xray", "normal", rng)
    with pytest.raises(ValueError, match="glioma, meningioma, notumor, pituitary"):
        make_image("brain_mri_4class", "tumour", rng)
    with pytest.raises(ValueError, match="size"):
        make_image("breast_us", "normal", rng, size=4)
    with pytest.raises(ValueError, match="easy, medium, hard"):
        make_image("breast_us", "normal", rng, difficulty="brutal")
    with pytest.raises(ValueError, match="overlap"):
        Difficulty(overlap=1.5)


def test_bad_dataset_requests_are_explained(tmp_path):
    with pytest.raises(UnknownTaskError, match="Known tasks"):
        write_dataset("chest_xray", tmp_path, 2, seed=0)
    with pytest.raises(ValueError, match="missing: \\['normal'\\]"):
        write_dataset("breast_us", tmp_path, {"benign": 2, "malignant": 2}, seed=0)
    with pytest.raises(ValueError, match=">= 0"):
        write_dataset("breast_us", tmp_path, -1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        write_dataset("breast_us", tmp_path, 1, seed=-3)


def test_label_noise_files_some_images_under_another_class_and_easy_files_none():
    noisy = Difficulty(noise=1.0, overlap=0.3, label_noise=0.5)
    drawn = [make_image("blood_smear", "all", np.random.default_rng(i), 32, noisy).drawn_label for i in range(40)]
    assert 5 < drawn.count("hem") < 35
    clean = [make_image("blood_smear", "all", np.random.default_rng(i), 32, EASY).drawn_label for i in range(10)]
    assert clean == ["all"] * 10


# --- class structure: the lesion is what differs -----------------------------------------------

def _lesions(task_id, label, n, size=96, difficulty=EASY):
    return [make_image(task_id, label, np.random.default_rng(100 + i), size, difficulty) for i in range(n)]


def _box_ratio(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    return (ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1)


def test_malignant_lesions_are_taller_than_wide_and_benign_ones_wider_than_tall():
    benign = [_box_ratio(p.lesion_masks[0]) for p in _lesions("breast_us", "benign", 8)]
    malignant = [_box_ratio(p.lesion_masks[0]) for p in _lesions("breast_us", "malignant", 8)]
    assert np.mean(benign) < 0.9 < np.mean(malignant)


def test_brain_tumours_have_a_lesion_where_expected_and_no_tumour_has_none():
    area = {k: np.mean([(p.lesion_mask > 0).mean() for p in _lesions("brain_mri_4class", k, 6)])
            for k in ("glioma", "meningioma", "notumor", "pituitary")}
    assert area["notumor"] == 0
    assert area["glioma"] > area["pituitary"] > 0 and area["meningioma"] > 0
    for p in _lesions("brain_mri_4class", "pituitary", 4):  # the sella is near the head's centre
        ys, xs = np.nonzero(p.lesion_mask)
        x0, y0, x1, y1 = p.head_box
        assert abs(xs.mean() - (x0 + x1) / 2) < 0.15 * (x1 - x0)
        assert abs(ys.mean() - (y0 + y1) / 2) < 0.25 * (y1 - y0)


def test_tumour_and_normal_brains_overlap_in_global_brightness():
    medium = DIFFICULTIES["medium"]
    normal = [p.image.mean() for p in _lesions("brain_mri_binary", "no", 12, 64, medium)]
    tumour = [p.image.mean() for p in _lesions("brain_mri_binary", "yes", 12, 64, medium)]
    assert max(normal) > min(tumour) and max(tumour) > min(normal)


def test_leukemic_blasts_are_larger_cells_than_healthy_lymphocytes():
    area = {k: np.mean([(p.image.max(axis=2) > 0).mean() for p in _lesions("blood_smear", k, 6)])
            for k in ("all", "hem")}
    assert area["all"] > 1.3 * area["hem"]


# --- command line, contact sheet, samples ------------------------------------------------------

def test_cli_writes_every_task_in_subfolders_and_a_contact_sheet(tmp_path, capsys):
    code = main(["--task", "all", "--out", str(tmp_path), "--per-class", "2", "--seed", "1",
                 "--size", "32", "--contact-sheet"])
    assert code == 0
    for task_id in TASKS:
        assert (tmp_path / task_id / "contact_sheet.png").is_file()
    assert (tmp_path / "breast_us" / "Dataset_BUSI_with_GT" / "benign" / "benign (2).png").is_file()
    assert str(tmp_path / "blood_smear" / "C-NMC_training_data") in capsys.readouterr().out


def test_cli_accepts_imbalanced_counts_and_rejects_an_unknown_task(tmp_path, capsys):
    assert main(["--task", "blood_smear", "--out", str(tmp_path), "--per-class", "all=3,hem=1",
                 "--seed", "0", "--size", "32"]) == 0
    assert len(list(tmp_path.rglob("*_all.bmp"))) == 3 and len(list(tmp_path.rglob("*_hem.bmp"))) == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["--task", "chest_xray", "--out", str(tmp_path), "--per-class", "1", "--seed", "0"])
    assert exit_info.value.code == 2
    assert "brain_mri_4class" in capsys.readouterr().err


def test_contact_sheet_is_a_labelled_grid_with_one_row_per_class(tmp_path):
    path = contact_sheet("breast_us", tmp_path / "sheet.png", per_class=3, size=40)
    width, height = Image.open(path).size
    assert height > 3 * 40 and width > 3 * 40


def test_samples_for_the_app_are_two_per_class_per_task(tmp_path):
    write_samples(tmp_path, size=32)
    expected = sorted(f"{t}/{c}_{n}.png" for t, task in TASKS.items() for c in task.classes for n in (1, 2))
    assert _files(tmp_path) == expected


def test_a_written_dataset_records_how_it_was_made_so_cards_can_say_synthetic(tmp_path):
    import json

    from core.phantoms import GENERATOR_VERSION

    write_dataset("brain_mri_binary", tmp_path, per_class=2, seed=7, size=32, difficulty="easy")
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["seed"] == 7 and manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["per_class"] == {"no": 2, "yes": 2} and manifest["difficulty"] == "easy"

