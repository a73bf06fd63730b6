"""Training a class's DCGAN: what a researcher gets on disk, quality in the card, resuming after a kill."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from core.io import read_image
from core.serving.cards import sha256_file
from tests.conftest import PHANTOM_SEED
from training.config import ConfigError
from training.gan_config import GanConfig

TASK = "brain_mri_binary"


def _tiny_gan(root, tmp_path, **overrides) -> GanConfig:
    values = dict(task=TASK, class_id="yes", data=str(root), image_size=32, epochs=2, batch_size=8,
                  val_fraction=0.25, test_fraction=0.25, quality_samples=8, verbose=0,
                  out=str(tmp_path / "gan"), runs_dir=str(tmp_path / "run"), models_dir=str(tmp_path / "models"),
                  kind="synthetic-phantoms", generator_seed=PHANTOM_SEED)
    values.update(overrides)
    return GanConfig(**values)


def test_training_publishes_a_generator_with_card_grid_loss_curves_and_speed(phantom_dataset, tmp_path):
    from training.train_gan import main

    root = phantom_dataset(TASK)
    argv = ["--task", TASK, "--class-id", "yes", "--data", str(root), "--image-size", "32", "--epochs", "2",
            "--batch-size", "8", "--val-fraction", "0.25", "--test-fraction", "0.25",
            "--sample-every", "1", "--out", str(tmp_path / "gan"), "--runs-dir", str(tmp_path / "run"),
            "--quality-samples", "8", "--weights", str(tmp_path / "no-weights"), "--kind", "synthetic-phantoms",
            "--generator-seed", str(PHANTOM_SEED), "--verbose", "0"]
    result = main(argv)

    out = tmp_path / "gan"
    assert sorted(p.name for p in out.iterdir()) == [
        "yes.card.json", "yes.config.json", "yes.keras", "yes_closest.png", "yes_grid.png"]  # no temp files
    card = json.loads((out / "yes.card.json").read_text())
    assert card["kind"] == "dcgan-generator"
    assert (card["task_id"], card["class_id"], card["image_size"], card["channels"]) == (TASK, "yes", 32, 1)
    assert card["sha256"] == sha256_file(out / "yes.keras") == result["sha256"]
    # The exact command, with this machine's folders left out (here: bare names of the tmp folders).
    assert card["command"].startswith("python -m training.train_gan " + shlex.join(argv[:4]))
    assert "--out gan --runs-dir run" in card["command"]
    assert card["training_data"]["kind"] == "synthetic-phantoms" and card["training_data"]["seed"] == PHANTOM_SEED
    # Only the training part of the 50/25/25 split of 8 "yes" images is learnt from.
    assert card["n_real_images"] == 4 and card["training_data"]["split"]["used"] == "train"
    assert {"tensorflow", "keras"} <= card["library_versions"].keys() and card["created"]
    assert json.loads((out / "yes.config.json").read_text())["epochs"] == 2

    # Without the fixed extractor's weight file FID/KID are null, and the card says which file is missing;
    # diversity and memorisation need no weights.
    quality = card["quality"]
    assert quality["fid"] is None and "mobilenet_2_5_224_tf_no_top.h5" in quality["reason"]
    assert 0 <= quality["ms_ssim_generated"] <= 1 and 0 <= quality["memorised_fraction"] <= 1
    assert quality["n_generated"] == 8 and quality["n_real"] == 4
    speed = card["speed"]
    assert speed["epochs_timed"] == 2 and speed["cpu_seconds"] > 0 and speed["epochs_per_second"] > 0
    assert speed["jit_compile"] is False and speed["device"] == "CPU"  # XLA only on a GPU: slower on CPU
    assert str(tmp_path) not in json.dumps(card)  # no absolute path of this machine in the card

    losses = pd.read_csv(tmp_path / "run" / "losses.csv")
    assert losses["epoch"].tolist() == [1, 2] and {"d_loss", "g_loss"} <= set(losses.columns)
    assert (tmp_path / "run" / "losses.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    assert not (tmp_path / "run" / "checkpoints").exists()  # finished: nothing left to resume

    grid = read_image(out / "yes_grid.png")
    assert grid.synthetic and grid.synthetic_info["generator_sha256"] == card["sha256"]
    assert grid.pixels.shape[0] > 4 * 32  # a 4 x 4 gallery of 32 px samples
    generator = keras.models.load_model(out / "yes.keras", safe_mode=True, compile=False)
    assert generator.output_shape == (None, 32, 32, 1)


class SimulatedKill(Exception):
    """Stands in for SIGKILL right after a checkpoint was written."""


class _KillAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise SimulatedKill(f"killed after epoch {epoch + 1}")


def test_an_interrupted_run_resumes_after_its_last_completed_epoch(phantom_dataset, tmp_path):
    from training.train_gan import train_gan

    cfg = _tiny_gan(phantom_dataset(TASK), tmp_path)
    with pytest.raises(SimulatedKill):
        train_gan(cfg, callbacks=[_KillAfterFirstEpoch()])
    assert (tmp_path / "run" / "checkpoints").is_dir()
    assert not (tmp_path / "gan" / "yes.keras").exists()  # nothing published by a killed run

    cfg.resume = True
    result = train_gan(cfg)

    assert result["epochs_run"] == [2]  # epoch 1 was not trained again
    assert pd.read_csv(result["losses_csv"])["epoch"].tolist() == [1, 2]
    card = json.loads(Path(result["card_file"]).read_text())
    assert card["sha256"] == sha256_file(result["keras_file"])


@pytest.mark.parametrize("overrides, message", [
    ({"class_id": "glioma"}, "not a class of task"),
    ({"class_id": None}, "No class given"),
    ({"data": None}, "No dataset given"),
    ({"split": "test"}, "split must be one of"),
    ({"channels": 2}, "channels must be 1"),
    ({"epochs": 0}, "epochs must be at least 1"),
])
def test_a_config_the_script_cannot_use_is_refused_with_a_clear_message(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        _tiny_gan(tmp_path, tmp_path, **overrides).validate()


def test_an_image_size_the_dcgan_cannot_draw_is_refused_before_any_work(tmp_path):
    from core.models.dcgan import GANConfigError
    from training.train_gan import train_gan

    with pytest.raises(GANConfigError, match="multiple of 16"):
        train_gan(_tiny_gan(tmp_path / "no-data-needed", tmp_path, image_size=40))
    assert not (tmp_path / "run").exists()


@pytest.mark.realdata
def test_a_generator_card_carries_the_fixed_quality_protocol_against_held_out_real_images(phantom_dataset, tmp_path):
    from core import paths
    from core.gan.features import WEIGHTS_FILE
    from training.train_gan import train_gan

    if not (paths.WEIGHTS_DIR / WEIGHTS_FILE).is_file():
        pytest.skip(f"{WEIGHTS_FILE} is not in $MEDIMG_WEIGHTS ({paths.WEIGHTS_DIR})")
    result = train_gan(_tiny_gan(phantom_dataset(TASK), tmp_path, epochs=1, quality_samples=500))
    q = json.loads(Path(result["card_file"]).read_text())["quality"]
    assert q["n_generated"] == 500 and q["n_real"] == 4 and q["n_reference"] == 4  # val + test images of the class
    for key in ("fid", "kid", "reference_fid", "reference_kid", "ms_ssim_generated", "ms_ssim_real",
                "memorised_fraction"):
        assert q[key] is not None and np.isfinite(q[key]), key
    assert q["fid"] > q["reference_fid"]  # one epoch of training is not yet as good as real scans
    assert (tmp_path / "gan" / q["memorisation"]["closest_pairs_png"]).stat().st_size > 0
    assert q["extractor"]["weights_file"] == WEIGHTS_FILE
