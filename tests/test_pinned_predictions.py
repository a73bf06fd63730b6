"""The shipped phantom model (blood smear) answers the bundled samples exactly as it did before the serving re-cut.

``tests/data/pinned_predictions.json`` holds, per task, the served model's sha256 and the exact
(float.hex) calibrated probabilities and OOD scores it gave three bundled samples. A refactor of
loading, preprocessing or the forward pass must not move a single bit. oneDNN's reductions depend
on the number of threads, so the pins were taken, and are checked, with one intra-op thread (in a
child process, since TensorFlow fixes its thread pools at start). A task whose served weights were
replaced since (another sha256) is skipped, since its numbers are meant to change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PINNED_FILE = Path(__file__).parent / "data" / "pinned_predictions.json"
PINNED = json.loads(PINNED_FILE.read_text())

_CHILD = """
import json, sys
from core import paths
from core.inference import load_model
from core.io import load_image
pinned = json.load(open(sys.argv[1]))
out = {}
for task_id, pin in pinned.items():
    served = load_model(task_id, pin["model"], warm_up=False)
    out[task_id] = {"sha256": served.card["sha256"], "samples": {}}
    for sample in pin["samples"]:
        p = served.predict(load_image(paths.SAMPLES_DIR / task_id / sample))
        out[task_id]["samples"][sample] = {
            "probabilities": {k: v.hex() for k, v in p.probabilities.items()}, "label": p.label,
            "ood_score": None if p.ood_score is None else p.ood_score.hex()}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def predicted() -> dict:
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(PINNED_FILE)], capture_output=True, text=True,
                          env=env, cwd=Path(__file__).parent.parent, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("task_id", sorted(PINNED))
def test_served_model_gives_bit_identical_probabilities_on_bundled_samples(task_id, predicted):
    pinned, got = PINNED[task_id], predicted[task_id]
    if got["sha256"] != pinned["sha256"]:
        pytest.skip(f"{task_id}: the served weights were retrained since the pin; their numbers may differ.")
    for sample, expected in pinned["samples"].items():
        assert got["samples"][sample]["probabilities"] == expected["probabilities"], sample
        assert got["samples"][sample]["label"] == expected["label"], sample
        assert got["samples"][sample]["ood_score"] == expected["ood_score"], sample
