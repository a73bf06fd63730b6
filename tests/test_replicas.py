"""App replicas are stateless: two app processes given the same upload show the same answer, and a
session leaves nothing on the replica's disk (so a load balancer may send any request anywhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from core import paths
from tests.test_app import MRI, SCAN, install, phantom, png

TIMEOUT = 300


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime) of every file below ``folder``."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """What all replicas share read-only: the served models (the image or a volume) and an upload."""
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("shared")
    install(root / "models", MRI.id, "tiny", favourite=1, ood=True, default=True)
    (root / "scan.png").write_bytes(png(phantom(SCAN)))
    return root


def start_replica(shared: Path, home: Path) -> subprocess.Popen:
    """One app process whose home, temp and working folders are ``home`` (empty) and models are shared."""
    for name in ("home", "tmp", "cwd"):
        (home / name).mkdir(parents=True)
    # Libraries write regenerable caches at import (matplotlib's font list, Keras' keras.json); they go to a
    # folder of their own, outside what is checked, as the Dockerfile's environment would put them.
    caches = home.parent / f"{home.name}-library-caches"
    env = {**os.environ, "MEDIMG_MODELS_DIR": str(shared / "models"), "HOME": str(home / "home"),
           "MPLCONFIGDIR": str(caches / "matplotlib"), "KERAS_HOME": str(caches / "keras"),
           "TMPDIR": str(home / "tmp"), "TF_CPP_MIN_LOG_LEVEL": "2", "TF_NUM_INTRAOP_THREADS": "1",
           "TF_NUM_INTEROP_THREADS": "1", "PYTHONPATH": str(paths.REPO_ROOT),
           # Shared state (clinician feedback) lives in a database server in a deployment; here its URL
           # points outside the replica's folders, so any write to the replica's disk is caught below.
           "MEDIMG_FEEDBACK_DB": str(shared.parent / f"feedback-{home.name}.sqlite3")}
    return subprocess.Popen([sys.executable, "-m", "tests.replica_session", str(shared / "scan.png")],
                            cwd=home / "cwd", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_replicas_give_the_same_answer_and_keep_nothing_on_their_disk(shared, tmp_path):
    models_before = snapshot(shared / "models")
    homes = [tmp_path / "replica1", tmp_path / "replica2"]
    replicas = [start_replica(shared, home) for home in homes]  # both run at the same time
    outputs = []
    for replica in replicas:
        out, err = replica.communicate(timeout=TIMEOUT)
        assert replica.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    first, second = outputs
    assert not first["exception"] and not first["error"], first
    assert any("calibrated probability" in m for m in first["markdown"]), "the upload was analysed"
    assert first["charts"], "the probabilities were plotted"
    assert first == second, "two replicas showed different things for the same upload"
    for home in homes:
        left = [str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()]
        assert left == [], f"a session wrote to the replica's disk: {left}"
    assert snapshot(shared / "models") == models_before, "serving must not modify the models folder"
