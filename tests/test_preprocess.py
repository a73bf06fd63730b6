"""Preprocessing: what the model sees, and what the app shows step by step."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core import preprocess
from core.phantoms import make_image
from core.preprocess import crop_to_largest_contour, denoise, prepare, resize_with_pad
from core.tasks import TASKS


def _drawn_head(shape=(96, 128), box=(30, 20, 90, 70)) -> np.ndarray:
    """A bright ellipse filling ``box`` (x0, y0, x1, y1, exclusive) on black, with a speck."""
    image = np.zeros(shape + (3,), np.uint8)
    x0, y0, x1, y1 = box
    centre = ((x0 + x1 - 1) // 2, (y0 + y1 - 1) // 2)
    axes = ((x1 - x0 - 1) // 2, (y1 - y0 - 1) // 2)
    cv2.ellipse(image, centre, axes, 0, 0, 360, (180, 180, 180), -1)
    image[2:4, 2:4] = 255  # a stray bright speck (annotation) the crop must ignore
    return image


def test_brain_crop_box_matches_the_drawn_head():
    box = (30, 20, 90, 70)
    cropped, found = crop_to_largest_contour(_drawn_head(box=box))
    assert np.allclose(found, box, atol=3)
    assert cropped.shape[:2] == (found[3] - found[1], found[2] - found[0])


@pytest.mark.parametrize("task_id, label", [("brain_mri_4class", "glioma"), ("brain_mri_4class", "notumor"),
                                            ("brain_mri_binary", "yes")])
@pytest.mark.parametrize("size", [64, 128, 256])
def test_brain_crop_box_matches_a_phantom_head_box(task_id, label, size):
    for seed in range(3):
        phantom = make_image(task_id, label, np.random.default_rng(seed), size=size, difficulty="hard")
        _, found = crop_to_largest_contour(phantom.image)
        assert np.allclose(found, phantom.head_box, atol=4), (seed, found, phantom.head_box)


@pytest.mark.parametrize("fill", [0, 255], ids=["blank", "all_white"])
def test_featureless_images_fall_back_to_the_full_frame(fill):
    image = np.full((40, 50, 3), fill, np.uint8)
    cropped, box = crop_to_largest_contour(image)
    assert box == (0, 0, 50, 40)
    assert cropped.shape == image.shape
    for task_id in TASKS:
        assert prepare(image, task_id, size=32).image.shape == (32, 32, 3)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((16, 16, 3), np.uint8),
        np.random.default_rng(1).integers(0, 256, (16, 16), dtype=np.uint8),
        np.random.default_rng(2).integers(0, 256, (37, 61, 1), dtype=np.uint8),
        np.random.default_rng(3).integers(0, 256, (33, 17, 4), dtype=np.uint8),
        np.random.default_rng(4).integers(0, 256, (1, 300, 3), dtype=np.uint8),
    ],
    ids=["tiny", "grey_2d", "grey_1ch_odd", "rgba_odd", "one_row"],
)
@pytest.mark.parametrize("task_id", list(TASKS))
def test_every_task_gives_uint8_rgb_at_the_requested_size(image, task_id):
    prepared = prepare(image, task_id, size=(24, 40))
    assert prepared.image.shape == (24, 40, 3)
    assert prepared.image.dtype == np.uint8


@pytest.mark.parametrize("task_id", list(TASKS))
def test_default_size_is_the_task_input_size(task_id):
    prepared = prepare(_drawn_head(), task_id)
    assert prepared.image.shape == TASKS[task_id].input_size + (3,)


def test_steps_are_named_in_order_and_end_with_the_model_input():
    expected = {
        "brain_mri_4class": ["input", "brain crop", "denoised", "resized + padded"],
        "breast_us": ["input", "grayscale", "denoised", "resized + padded"],
        "blood_smear": ["input", "cell crop", "resized + padded"],
    }
    for task_id, names in expected.items():
        prepared = prepare(_drawn_head(), task_id, size=32)
        assert list(prepared.steps) == names
        assert prepared.steps["resized + padded"] is prepared.image
        assert all(s.dtype == np.uint8 and s.ndim == 3 and s.shape[2] == 3
                   for s in prepared.steps.values())


def test_preparation_is_deterministic():
    image = np.random.default_rng(5).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    for task_id in TASKS:
        a, b = prepare(image, task_id, size=32), prepare(image, task_id, size=32)
        assert np.array_equal(a.image, b.image)


def test_input_is_never_modified():
    image = _drawn_head()
    before = image.copy()
    prepare(image, "brain_mri_4class", size=32)
    assert np.array_equal(image, before)


def test_letterbox_keeps_aspect_ratio_with_black_bars():
    wide = np.full((20, 80, 3), 200, np.uint8)
    out = resize_with_pad(wide, 40)
    assert out.shape == (40, 40, 3)
    rows_with_content = np.flatnonzero(out.max(axis=(1, 2)) > 0)
    assert len(rows_with_content) == 10  # 20x80 scaled by 1/2 -> 10x40, centred
    assert rows_with_content[0] == 15
    assert out[0].max() == 0 and out[-1].max() == 0


def test_letterbox_keeps_a_grey_image_grey():
    assert resize_with_pad(np.zeros((10, 20), np.uint8), (8, 8)).shape == (8, 8)
    assert resize_with_pad(np.zeros((10, 20, 1), np.uint8), (8, 8)).shape == (8, 8, 1)


def test_denoise_smooths_noise_but_keeps_a_strong_edge():
    rng = np.random.default_rng(6)
    image = np.zeros((40, 40, 3), np.uint8)
    image[:, 20:] = 200
    noisy = np.clip(image.astype(int) + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    out = denoise(noisy)
    assert out.shape == noisy.shape
    assert out[:, 2:18].std() < noisy[:, 2:18].std()
    assert out[:, :18].mean() < 40 and out[:, 22:].mean() > 160


def test_cell_crop_centres_the_cell():
    image = np.zeros((90, 90, 3), np.uint8)
    cv2.circle(image, (20, 25), 12, (120, 60, 160), -1)
    out = prepare(image, "blood_smear", size=32).image
    ys, xs = np.nonzero(out.max(axis=2) > 30)
    assert abs(ys.mean() - 15.5) < 2 and abs(xs.mean() - 15.5) < 2


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8, 3), np.uint16), "uint8"),
        (np.zeros((8, 8, 2), np.uint8), "shape"),
        (np.zeros((2, 8, 8, 3), np.uint8), "shape"),
        (np.zeros((0, 8, 3), np.uint8), "empty"),
        ([[0, 1], [2, 3]], "numpy"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=message):
        prepare(bad, "brain_mri_4class")


@pytest.mark.parametrize("size", [0, -3, (32,), (32, 0), "224", 2.5, True])
def test_bad_size_is_rejected(size):
    with pytest.raises(ValueError, match="Size"):
        prepare(np.zeros((8, 8, 3), np.uint8), "breast_us", size=size)


def test_every_task_has_a_recipe():
    assert {t.preprocessing for t in TASKS.values()} <= set(preprocess.RECIPES)
