"""Every filesystem location the project uses, in one place.

Other modules import these names instead of spelling out ``models/`` or ``data/``
themselves, so a deployment can relocate them with environment variables.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parent.parent

#: Served weights: ``models/<task_id>/<name>.keras`` beside ``<name>.card.json``.
MODELS_DIR: Path = Path(os.environ.get("MEDIMG_MODELS_DIR", REPO_ROOT / "models"))

#: Where researchers put datasets (never shipped, never written by the app).
DATA_DIR: Path = Path(os.environ.get("MEDIMG_DATA_DIR", REPO_ROOT / "data"))

#: Bundled example images the app offers when a clinician has no file at hand.
SAMPLES_DIR: Path = REPO_ROOT / "samples"

#: Offline ImageNet weights: ``~/.keras/models`` is where Keras itself looks first.
KERAS_WEIGHTS_DIR: Path = Path(
    os.environ.get("KERAS_HOME", Path.home() / ".keras")
) / "models"

#: Real public datasets (never shipped): the folder ``$MEDIMG_DATA`` names, by default the team's
#: ``../shared/data`` beside the clone. Tests marked ``realdata`` skip when it is absent.
REAL_DATA_DIR: Path = Path(os.environ.get("MEDIMG_DATA", REPO_ROOT.parent / "shared" / "data"))

#: Offline ImageNet weight files with a ``MANIFEST.sha256`` (``$MEDIMG_WEIGHTS``, default ``../shared/weights``).
WEIGHTS_DIR: Path = Path(os.environ.get("MEDIMG_WEIGHTS", REPO_ROOT.parent / "shared" / "weights"))

#: Training runs write their checkpoints and plots below this folder by default.
RUNS_DIR: Path = Path(os.environ.get("MEDIMG_RUNS_DIR", REPO_ROOT / "runs"))

#: Clinician feedback (SQLite, created on first use) unless ``$MEDIMG_DB_URL`` names another database.
FEEDBACK_DB: Path = Path(os.environ.get("MEDIMG_FEEDBACK_DB", REPO_ROOT / "feedback" / "feedback.sqlite3"))


def task_models_dir(task_id: str) -> Path:
    """Folder holding the served models of one task."""
    return MODELS_DIR / task_id
