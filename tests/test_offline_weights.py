"""Transfer learning from real ImageNet weights kept on disk: found, checked by sha256, explained when missing."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from core import paths
from core.models import build_classifier, get_spec
from core.models import offline_weights as ow


def _fake_weights_dir(tmp_path, monkeypatch, content: bytes, manifest_digest: str | None):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "mobilenet_2_5_224_tf_no_top.h5").write_bytes(content)
    if manifest_digest:
        (folder / "MANIFEST.sha256").write_text(f"{manifest_digest}  mobilenet_2_5_224_tf_no_top.h5\n")
    monkeypatch.setattr(paths, "WEIGHTS_DIR", folder)
    monkeypatch.setattr(paths, "KERAS_WEIGHTS_DIR", tmp_path / "keras-empty")
    return folder


def test_the_registry_offers_imagenet_mobilenet_v1_at_width_quarter():
    spec = get_spec("mobilenet")
    assert spec.pretrained and spec.normalization == "tf"
    model = build_classifier("mobilenet", "breast_us", (64, 64, 3), weights=None)
    # width 0.25: 1024 * 0.25 = 256 channels reach the shared head.
    assert model.get_layer("avg_pool").output.shape[-1] == 256
    assert model.output_shape == (None, 3)


def test_missing_offline_weights_name_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "WEIGHTS_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(paths, "KERAS_WEIGHTS_DIR", tmp_path / "keras")
    with pytest.raises(ow.WeightsFileError, match="mobilenet_2_5_224_tf_no_top.h5") as caught:
        build_classifier("mobilenet", "breast_us", (64, 64, 3), weights="imagenet")
    assert "--weights" in str(caught.value) and str(tmp_path / "nowhere") in str(caught.value)


def test_a_damaged_weights_file_is_refused_before_keras_reads_it(tmp_path, monkeypatch):
    real = hashlib.sha256(b"the published file").hexdigest()
    _fake_weights_dir(tmp_path, monkeypatch, b"a truncated download", real)
    with pytest.raises(ow.WeightsFileError, match="does not match its recorded sha256"):
        build_classifier("mobilenet", "breast_us", (64, 64, 3), weights="imagenet")


def test_a_weights_path_given_by_hand_is_checked_against_its_manifest(tmp_path, monkeypatch):
    folder = _fake_weights_dir(tmp_path, monkeypatch, b"x", hashlib.sha256(b"y").hexdigest())
    with pytest.raises(ow.WeightsFileError, match="does not match"):
        build_classifier("mobilenet", "breast_us", (64, 64, 3), weights=folder / "mobilenet_2_5_224_tf_no_top.h5")


def test_a_file_without_manifest_entry_is_checked_against_the_published_digest(tmp_path):
    path = tmp_path / "mobilenet_2_5_224_tf_no_top.h5"
    path.write_bytes(b"not the weights")
    with pytest.raises(ow.WeightsFileError):
        ow.verify_weights_file(path, ow.OFFLINE_WEIGHTS["mobilenet"].sha256)


@pytest.mark.realdata
def test_the_shared_imagenet_file_loads_and_gives_imagenet_features():
    if not (paths.WEIGHTS_DIR / "mobilenet_2_5_224_tf_no_top.h5").is_file():
        pytest.skip(f"ImageNet MobileNet weights not found in {paths.WEIGHTS_DIR} (set $MEDIMG_WEIGHTS)")
    import keras

    model = build_classifier("mobilenet", "breast_us", (128, 128, 3), weights="imagenet")
    reference = keras.applications.MobileNet(alpha=0.25, include_top=False, input_shape=(128, 128, 3),
                                             weights=str(paths.WEIGHTS_DIR / "mobilenet_2_5_224_tf_no_top.h5"))
    ours = {w.name: w for w in model.get_layer("conv1").weights}
    theirs = {w.name: w for w in reference.get_layer("conv1").weights}
    for name, weight in theirs.items():
        np.testing.assert_array_equal(np.asarray(ours[name]), np.asarray(weight))
