"""Training beyond one device, really run on this CPU: two workers on 127.0.0.1 with TF_CONFIG
(MultiWorkerMirroredStrategy), MirroredStrategy over two logical CPUs, resuming both after a kill,
and mixed precision that still serves in float32.

The cluster tests start real processes through the normal command line and take a minute or
more on a shared 2-core machine, so they are marked ``slow`` (``pytest -m slow tests/test_distributed.py``).
The default run keeps the in-process mixed-precision run and the policy choice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from core import paths
from tests.conftest import PHANTOM_SEED

TASK = "brain_mri_binary"
#: The single-worker reference and the cluster see the same images in the same global batches; dropout
#: and augmentation draw different random numbers per replica, so losses agree closely, not exactly.
LOSS_TOLERANCE = 0.02
#: Test accuracy on 12 test images of a 2-epoch model: at most 3 images may be judged differently.
ACCURACY_TOLERANCE = 0.25
PROCESS_TIMEOUT = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_args(data: Path, out: Path, *extra: str, epochs: int = 2) -> list[str]:
    return ["--task", TASK, "--data", str(data), "--epochs", str(epochs), "--image-size", "32",
            "--batch-size", "8", "--val-fraction", "0.25", "--test-fraction", "0.25", "--run", "dist",
            "--models-dir", str(out / "models"), "--runs-dir", str(out / "run"), "--verbose", "2",
            "--latency-samples", "3", "--no-plots", "--kind", "synthetic-phantoms",
            "--generator-seed", str(PHANTOM_SEED), *extra]


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    """``python -m training.train_classifier`` in a new process, one thread each (a shared 2-core host)."""
    environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_NUM_INTEROP_THREADS": "1",
               "TF_NUM_INTRAOP_THREADS": "1", **env}
    if "MEDIMG_LOGICAL_CPUS" not in env:  # a developer's own setting must not leak into a test
        environ.pop("MEDIMG_LOGICAL_CPUS", None)
    handle = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "training.train_classifier", *args], cwd=paths.REPO_ROOT,
                            env=environ, stdout=handle, stderr=subprocess.STDOUT)


def start_cluster(args: list[str], out: Path, workers: int = 2) -> list[subprocess.Popen]:
    """``workers`` processes of one MultiWorkerMirroredStrategy cluster on loopback ports."""
    cluster = {"worker": [f"127.0.0.1:{free_port()}" for _ in range(workers)]}
    out.mkdir(parents=True, exist_ok=True)
    return [start([*args, "--distribute", "multiworker"], out / f"worker{i}.log",
                  TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
            for i in range(workers)]


def finish(processes: list[subprocess.Popen], out: Path) -> None:
    for i, process in enumerate(processes):
        rc = process.wait(PROCESS_TIMEOUT)
        logs = "\n".join(p.read_text()[-3000:] for p in sorted(out.glob("*.log")))
        assert rc == 0, f"process {i} exited with {rc}:\n{logs}"


def kill_after_first_backup(processes: list[subprocess.Popen], backup: Path) -> None:
    """SIGKILL every process once the chief has checkpointed an epoch (and before the run ends)."""
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not backup.is_file():
        assert all(p.poll() is None for p in processes), "a process ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.1)
    assert all(p.poll() is None for p in processes), "the run ended before it could be interrupted"
    for process in processes:
        process.send_signal(signal.SIGKILL)
        process.wait(60)


def metrics(out: Path, worker: str = "") -> dict:
    return json.loads((out / "run" / worker / "metrics.json").read_text())


def history(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "run" / "history.csv")


def published(out: Path) -> list[str]:
    """The served files, with the version a publication puts in their names (training.staging) left out."""
    folder = out / "models" / TASK
    return sorted(re.sub(r"\.[0-9a-f]{12}\.", ".", p.name) for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def phantoms(phantom_dataset):
    return phantom_dataset(TASK, per_class=24, size=48)


# ---- default run: fast ---------------------------------------------------------------------------


def test_mixed_precision_is_bfloat16_on_a_cpu_and_float16_on_a_gpu():
    from training.runtime import mixed_policy

    assert mixed_policy(gpus=0) == "mixed_bfloat16"
    assert mixed_policy(gpus=1) == "mixed_float16"


def test_a_mixed_precision_run_publishes_a_model_that_serves_in_float32(phantom_dataset, tiny):
    import keras
    import numpy as np

    from training.config import TrainConfig
    from training.train_classifier import models_dir_for, train

    cfg = tiny(TrainConfig(task=TASK, data=str(phantom_dataset(TASK))), mixed_precision="on", ood=False)
    result = train(cfg)

    assert result["dtype_policy"] == "mixed_bfloat16"
    model = keras.models.load_model(result["keras_file"], compile=False)
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    probs = model(np.zeros((2, *model.input_shape[1:]), "float32"))
    assert probs.dtype == "float32" and np.allclose(np.sum(probs, axis=1), 1.0, atol=1e-5)
    assert keras.mixed_precision.global_policy().name == "float32", "the run restores the global policy"
    assert models_dir_for(cfg).is_dir()


# ---- slow: real clusters -------------------------------------------------------------------------


@pytest.mark.slow
def test_two_workers_match_one_worker_and_only_the_chief_publishes(phantoms, tmp_path):
    single, cluster = tmp_path / "single", tmp_path / "cluster"
    single.mkdir()
    started = time.perf_counter()
    finish([start([*cli_args(phantoms, single), "--distribute", "none"], single / "single.log")], single)
    single_seconds = time.perf_counter() - started
    started = time.perf_counter()
    finish(start_cluster(cli_args(phantoms, cluster), cluster), cluster)
    cluster_seconds = time.perf_counter() - started

    assert published(cluster) == ["dist.card.json", "dist.config.json", "dist.keras", "dist.ood.npz"]
    assert not (cluster / "run" / ".worker_1").exists(), "the other worker cleans up its private folder"
    chief, reference = metrics(cluster), metrics(single)
    assert chief["replicas"] == 2 and reference["replicas"] == 1
    mine, theirs = history(cluster), history(single)
    assert mine["epoch"].tolist() == theirs["epoch"].tolist() == [1, 2]
    for column in ("loss", "val_loss"):
        assert (mine[column] - theirs[column]).abs().max() <= LOSS_TOLERANCE, (column, mine, theirs)
    assert abs(chief["accuracy"] - reference["accuracy"]) <= ACCURACY_TOLERANCE
    print(f"\nsingle worker: accuracy {reference['accuracy']:.3f}, loss {theirs['loss'].tolist()}, "
          f"{single_seconds:.0f} s; two workers: accuracy {chief['accuracy']:.3f}, loss {mine['loss'].tolist()}, "
          f"{cluster_seconds:.0f} s")


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus_trains_two_replicas(phantoms, tmp_path):
    finish([start([*cli_args(phantoms, tmp_path), "--distribute", "mirrored"], tmp_path / "mirrored.log",
                  MEDIMG_LOGICAL_CPUS="2")], tmp_path)

    assert metrics(tmp_path)["replicas"] == 2
    assert published(tmp_path) == ["dist.card.json", "dist.config.json", "dist.keras", "dist.ood.npz"]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["multiworker", "mirrored"])
def test_a_killed_distributed_run_resumes_where_it_stopped(phantoms, tmp_path, strategy):
    epochs = 8
    args = cli_args(phantoms, tmp_path, "--no-ood", epochs=epochs)
    backup = tmp_path / "run" / "checkpoints" / "train" / "training_metadata.json"
    if strategy == "multiworker":
        launch = lambda extra: start_cluster([*args, *extra], tmp_path)  # noqa: E731
    else:
        launch = lambda extra: [start([*args, *extra, "--distribute", "mirrored"],  # noqa: E731
                                      tmp_path / "mirrored.log", MEDIMG_LOGICAL_CPUS="2")]

    kill_after_first_backup(launch([]), backup)
    assert published(tmp_path) == []
    finish(launch(["--resume"]), tmp_path)

    assert history(tmp_path)["epoch"].tolist() == list(range(1, epochs + 1)), "every epoch once"
    resumed = metrics(tmp_path)["epochs_run"]
    assert resumed[0] > 1 and resumed[-1] == epochs, "the second attempt did not start over"
    assert "dist.keras" in published(tmp_path)
