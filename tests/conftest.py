"""Shared fixtures: small, offline, fast."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# --- training scripts: tiny phantom datasets and a config shrinker (owned by the training CLI part) ---

import dataclasses  # noqa: E402

import pytest  # noqa: E402

#: Seed of every phantom folder the training tests write (recorded in the cards they produce).
PHANTOM_SEED = 0


@pytest.fixture(scope="session")
def phantom_dataset(tmp_path_factory):
    """Factory: ``phantom_dataset(task_id, per_class=8, size=48)`` -> root of a phantom set in the
    task's public layout, written once per session and shared (treat it as read-only)."""
    from core.phantoms import write_dataset

    made = {}

    def make(task_id: str, per_class: int = 8, size: int = 48):
        key = (task_id, per_class, size)
        if key not in made:
            out = tmp_path_factory.mktemp(f"phantoms-{task_id}")
            made[key] = write_dataset(task_id, out, per_class=per_class, seed=PHANTOM_SEED, size=size)
        return made[key]

    return make


def _tiny_train(cfg, tmp_path, models=()):
    """A TrainConfig shrunk to seconds on a CPU: 1 epoch per phase, 32-75 px, 8 images per class,
    no ImageNet download, no figures, everything written under tmp_path, marked as phantom data."""
    from core.models import get_spec

    specs = [get_spec(name) for name in (models or [cfg.model])]
    size = max(max(s.min_size, 64) if s.pretrained else 32 for s in specs)
    return dataclasses.replace(
        cfg, epochs=1, fine_tune_epochs=min(cfg.fine_tune_epochs, 1), image_size=size, weights="none",
        batch_size=8, limit=8, val_fraction=0.25, test_fraction=0.25, early_stopping_patience=None,
        latency_samples=3, verbose=0, plots=False, models_dir=str(tmp_path / "models"),
        runs_dir=str(tmp_path / "runs" / cfg.run_name), kind="synthetic-phantoms", generator_seed=PHANTOM_SEED,
    )


@pytest.fixture()
def tiny(tmp_path):
    """Shrink any training-script config (TrainConfig, or one composing it) for a fast test run."""
    from training.config import TrainConfig

    def shrink(cfg, **overrides):
        if isinstance(cfg, TrainConfig):
            small = _tiny_train(cfg, tmp_path)
        else:
            models = getattr(cfg, "models", None) or ()
            small = dataclasses.replace(cfg, train=_tiny_train(cfg.train, tmp_path, models),
                                        out=str(tmp_path / "report"))
            if hasattr(small, "folds"):
                small = dataclasses.replace(small, folds=min(small.folds, 2))
        return dataclasses.replace(small, **overrides)

    return shrink


# --- real public data ($MEDIMG_DATA, default ../shared/data): present in CI, absent in a user's fresh clone ---

#: task id -> dataset folder under $MEDIMG_DATA.
REAL_FOLDERS = {"brain_mri_4class": "brain_tumor_mri", "brain_mri_binary": "br35h", "breast_us": "busi"}


@pytest.fixture(scope="session")
def real_data():
    """Factory: ``real_data(task_id)`` -> the real dataset folder of a task, or skip with the reason."""
    from core import paths

    def find(task_id: str):
        folder = paths.REAL_DATA_DIR / REAL_FOLDERS[task_id]
        if not folder.is_dir():
            pytest.skip(f"real data for {task_id} not found at {folder} (set $MEDIMG_DATA to the folder "
                        "holding brain_tumor_mri/, br35h/ and busi/)")
        return folder

    return find
