"""Training a classifier: what a researcher gets on disk, resuming after a kill, configs, README recipes."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from core.serving.cards import read_card, sha256_file, validate_card
from core.serving.provenance import relativise_paths
from core.tasks import get_task
from tests.conftest import PHANTOM_SEED
from training.cli import from_dict, load_yaml, parse_config
from training.config import ConfigError, TrainConfig

README = Path(__file__).resolve().parent.parent / "training" / "README.md"


def test_a_two_epoch_run_publishes_a_model_its_card_vouches_for(phantom_dataset, tmp_path):
    from core.inference import load_model
    from core.phantoms import GENERATOR_VERSION
    from training.train_classifier import main

    root = phantom_dataset("brain_mri_binary")
    argv = ["--task", "brain_mri_binary", "--data", str(root), "--epochs", "2", "--image-size", "32",
            "--batch-size", "8", "--val-fraction", "0.25", "--test-fraction", "0.25", "--run", "tiny_cnn",
            "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "run"), "--verbose", "0",
            "--latency-samples", "3", "--kind", "synthetic-phantoms", "--generator-seed", str(PHANTOM_SEED)]
    metrics = main(argv)

    folder = tmp_path / "models" / "brain_mri_binary"
    card = read_card(folder / "tiny_cnn.card.json")
    assert validate_card(card) == []
    assert card["sha256"] == sha256_file(folder / card["keras_file"])
    # The exact command, with machine paths made portable (a card holds no absolute path).
    assert card["command"] == relativise_paths("python -m training.train_classifier " + shlex.join(argv))
    assert card["conformal"] is None or 0 <= card["conformal"]["test_coverage"] <= 1
    assert card["training_data"]["kind"] == "synthetic-phantoms"
    assert card["training_data"]["generator_version"] == GENERATOR_VERSION
    assert card["class_names"] == ["no", "yes"] and card["input_shape"] == [32, 32, 3]
    assert card["test_metrics"]["accuracy"] == metrics["accuracy"]
    assert sum(card["split_sizes"].values()) + card["training_data"]["duplicates_dropped"] == 16
    assert card["calibration"]["temperature"] > 0 and card["latency_ms"]["n"] == 3
    assert card["params"] > 0 and card["flops"] > 0
    # The card reports how often the OOD detector refuses blank, noise, photo and other-modality probes.
    assert set(card["ood"]["detection_rate_by_kind"]) == {"blank", "noise", "natural photo", "other modality"}
    assert 0.0 <= card["ood"]["detection_rate"] <= 1.0 and 0.0 <= card["ood"]["test_false_rejection_rate"] <= 1.0
    # The published set: the card, the config, and the files the card names; no temp files, no others.
    published = ["tiny_cnn.card.json", "tiny_cnn.config.json", card["keras_file"], card["ood"]["file"],
                 *card["plots"].values()]
    assert sorted(p.name for p in folder.iterdir()) == sorted(published)
    assert len(card["plots"]) == 4

    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(history.columns)
    for name in ("history", "confusion_matrix", "roc", "reliability"):
        # The figures travel with the model, for the app's Models page; the card holds no absolute path.
        assert (folder / card["plots"][name]).read_bytes() == (tmp_path / "run" / f"{name}.png").read_bytes()
        assert not Path(card["training_run"]["plots"][name]).is_absolute()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["run"] == "tiny_cnn"

    served = load_model("brain_mri_binary", "tiny_cnn", tmp_path / "models")
    image = np.zeros((48, 48, 3), np.uint8)
    prediction = served.predict(image)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


class SimulatedKill(Exception):
    """Stands in for SIGKILL: the process stops right after a checkpoint was written."""


class _KillAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise SimulatedKill(f"killed after epoch {epoch + 1}")


class _EpochsSeen(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch + 1)


def test_resume_after_a_kill_trains_only_the_epochs_that_were_left(phantom_dataset, tiny, tmp_path):
    from training.train_classifier import train

    cfg = tiny(TrainConfig(task="brain_mri_binary", data=str(phantom_dataset("brain_mri_binary")), run="killed"),
               epochs=4, lr_schedule="cosine", ood=False)
    with pytest.raises(SimulatedKill):
        train(cfg, callbacks=[_KillAfterEpoch(2)])
    assert not (Path(cfg.models_dir) / "brain_mri_binary" / "killed.card.json").exists()
    assert pd.read_csv(Path(cfg.runs_dir) / "history.csv")["epoch"].tolist() == [1, 2]

    seen = _EpochsSeen()
    metrics = train(dataclasses.replace(cfg, resume=True), callbacks=[seen])
    assert seen.seen == [3, 4]
    assert metrics["epochs_run"] == [3, 4]
    history = pd.read_csv(Path(cfg.runs_dir) / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    # The cosine schedule continued where it was instead of restarting at its peak.
    assert history["learning_rate"].is_monotonic_decreasing
    assert Path(metrics["keras_file"]).is_file() and Path(metrics["card_file"]).is_file()


def test_without_resume_a_rerun_starts_again_from_epoch_one(phantom_dataset, tiny):
    from training.train_classifier import train

    cfg = tiny(TrainConfig(task="brain_mri_binary", data=str(phantom_dataset("brain_mri_binary"))), epochs=2, ood=False)
    with pytest.raises(SimulatedKill):
        train(cfg, callbacks=[_KillAfterEpoch(1)])
    seen = _EpochsSeen()
    train(cfg, callbacks=[seen])
    assert seen.seen == [1, 2]


def test_yaml_config_is_read_and_command_line_flags_override_it(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("task: breast_us\ndata: data/busi\nmodel: mobilenet_v2\nepochs: 7\nlr_schedule: cosine\n"
                    "class_weights: true\n")
    cfg = parse_config(TrainConfig, ["--config", str(path), "--epochs", "3", "--no-class-weights"], "t", "t")
    assert (cfg.task, cfg.model, cfg.lr_schedule) == ("breast_us", "mobilenet_v2", "cosine")
    assert cfg.epochs == 3 and cfg.class_weights is False
    assert cfg.learning_rate == 1e-4 and cfg.batch_size == 32  # untouched defaults


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("task: breast_us\ndata: x\nepoch: 3\n", "Unknown config key 'epoch'"),
    ("task: breast_us\ndata: x\nepochs: three\n", "'epochs' must be a whole number, got 'three'"),
    ("task: breast_us\ndata: x\nlr_schedule: linear\n", "lr_schedule must be one of constant, cosine"),
    ("task: breast_us\n", "No dataset given"),
    ("- just\n- a list\n", "must hold a mapping"),
])
def test_a_bad_config_file_is_refused_with_the_reason(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict(TrainConfig, load_yaml(path)).validate()


@pytest.mark.parametrize(("extra", "message"), [
    (["--data", "no/such/folder"], "does not exist"),
    (["--model", "resnet5O"], "Unknown classifier 'resnet5O'"),
    (["--model", "xception", "--image-size", "32"], "at least 71 px"),
])
def test_the_command_line_answers_a_fixable_mistake_with_one_line_and_status_2(phantom_dataset, tmp_path, capsys,
                                                                               extra, message):
    from training.train_classifier import main

    argv = ["--task", "brain_mri_binary", "--data", str(phantom_dataset("brain_mri_binary")),
            "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "run"), *extra]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "models").exists()


def test_multiworker_training_without_a_cluster_description_is_refused(monkeypatch):
    from training.runtime import RuntimeConfigError, runtime

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(RuntimeConfigError, match="TF_CONFIG"):
        with runtime(distribute="multiworker"):
            pass
    assert keras.mixed_precision.global_policy().name == "float32"  # a failed run leaves no policy behind


def test_transfer_models_train_frozen_then_fine_tune_and_scratch_models_in_one_phase():
    from training.loop import plan_phases

    cnn = plan_phases(TrainConfig(task="t", data="d", fine_tune_epochs=5), has_backbone=False)
    assert [(p.name, p.backbone_trainable) for p in cnn] == [("train", None)]
    two = plan_phases(TrainConfig(task="t", data="d", epochs=3, fine_tune_epochs=5), has_backbone=True)
    assert [(p.name, p.first_epoch, p.epochs, p.learning_rate, p.backbone_trainable) for p in two] == [
        ("frozen", 0, 3, 1e-4, False), ("fine_tune", 3, 5, 1e-5, True)]
    frozen = plan_phases(TrainConfig(task="t", data="d"), has_backbone=True)
    assert [(p.name, p.backbone_trainable) for p in frozen] == [("train", False)]


# --- the README's reproduction recipes, run unchanged but shrunk, on phantoms -------------------------

def _readme_recipes() -> list[list[list[str]]]:
    """Each ```bash block of the 'Reproducing' section: its commands as argv lists."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Reproducing", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [[shlex.split(line) for line in block.splitlines() if line.startswith("python -m training.")]
            for block in blocks]


_FAST = {"small_cnn_br35h", "mobilenet_v2_cnmc"}


def _recipe_id(recipe: list[list[str]]) -> str:
    argv = recipe[0]
    return argv[argv.index("--run") + 1] if "--run" in argv else argv[2]


def _recipe_params():
    params = []
    for recipe in _readme_recipes():
        rid = _recipe_id(recipe)
        params.append(pytest.param(recipe, id=rid, marks=() if rid in _FAST else pytest.mark.slow))
    return params


def test_the_readme_has_a_recipe_for_every_published_result():
    ids = {_recipe_id(r) for r in _readme_recipes()}
    assert {"resnet50_kaggle", "small_cnn_br35h", "mobilenet_v2_busi", "mobilenet_v2_cnmc", "cnmc", "kaggle"} <= ids
    assert _FAST <= ids


@pytest.mark.parametrize("recipe", _recipe_params())
def test_readme_commands_run_on_phantoms(recipe, phantom_dataset, tiny, tmp_path):
    from training import compare, cross_validate, evaluate, train_classifier
    from training.config import CompareConfig, CrossValidateConfig, EvaluateConfig

    scripts = {
        "training.train_classifier": (TrainConfig, train_classifier.train),
        "training.cross_validate": (CrossValidateConfig, cross_validate.cross_validate),
        "training.compare": (CompareConfig, compare.compare),
        "training.evaluate": (EvaluateConfig, evaluate.evaluate),
    }
    for argv in recipe:
        module, args = argv[2], argv[3:]
        task = args[args.index("--task") + 1]
        args[args.index("--data") + 1] = str(phantom_dataset(task))
        cls, run = scripts[module]
        cfg = parse_config(cls, args, module, "")
        if cls is EvaluateConfig:
            cfg = dataclasses.replace(cfg, models_dir=str(tmp_path / "models"), out=str(tmp_path / "eval"),
                                      limit=8, latency_samples=3)
        else:
            cfg = tiny(cfg)
        result = run(cfg)
        if cls is TrainConfig:
            card = read_card(result["card_file"])
            assert validate_card(card) == [] and card["sha256"] == sha256_file(result["keras_file"])
            assert card["task_id"] == task and card["architecture"] == cfg.model
            phases = pd.read_csv(Path(cfg.runs_dir) / "history.csv")["phase"].tolist()
            assert phases == (["frozen", "fine_tune"] if cfg.fine_tune_epochs else ["train"])
        elif cls is CompareConfig:
            assert result["model"].tolist() == cfg.models
        elif cls is CrossValidateConfig:
            assert len(result["fold_metrics"]) == cfg.folds
        else:
            assert result["n"] > 0 and set(result["per_class"]) == set(get_task(task).classes)
