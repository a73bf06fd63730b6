"""--resume falls back past damaged checkpoints instead of stopping on a traceback."""

from __future__ import annotations

import json

import keras
import pytest

from training import checkpoints


@pytest.fixture
def phase_dir(tmp_path):
    """A phase folder as BackupAndRestore(double_checkpoint=True) leaves it after two epochs."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    folder = tmp_path / "checkpoints" / "head"
    folder.mkdir(parents=True)
    model.save_weights(folder / checkpoints.LATEST)
    (folder / f"{checkpoints.LATEST}.bkp").write_bytes((folder / checkpoints.LATEST).read_bytes())  # as Keras copies
    for suffix, epoch in ((".bkp", 0), ("", 1)):
        (folder / f"{checkpoints.METADATA}{suffix}").write_text(json.dumps({"epoch": epoch}))
    return folder


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def test_readable_checkpoints_are_left_alone(phase_dir):
    assert checkpoints.recover(phase_dir.parent) == []
    assert json.loads((phase_dir / checkpoints.METADATA).read_text())["epoch"] == 1


def test_a_damaged_latest_checkpoint_falls_back_to_the_epoch_before(phase_dir):
    _truncate(phase_dir / checkpoints.LATEST)
    said = checkpoints.recover(phase_dir.parent)
    assert said == ["The latest checkpoint of phase 'head' was damaged; resuming from the epoch before."]
    assert checkpoints.readable_weights(phase_dir / checkpoints.LATEST)
    assert json.loads((phase_dir / checkpoints.METADATA).read_text())["epoch"] == 0


def test_with_no_readable_checkpoint_the_phase_restarts_and_says_so(phase_dir):
    _truncate(phase_dir / checkpoints.LATEST)
    _truncate(phase_dir / f"{checkpoints.LATEST}.bkp")
    said = checkpoints.recover(phase_dir.parent)
    assert "restarts from its beginning" in said[0] and not phase_dir.exists()


def test_a_damaged_end_of_phase_file_makes_that_phase_run_again(phase_dir):
    marker = phase_dir.parent / "head.done.weights.h5"
    marker.write_bytes(b"not hdf5")
    assert "will run again" in checkpoints.recover(phase_dir.parent)[0]
    assert not marker.exists()
