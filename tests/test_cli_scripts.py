"""Every training script speaks through training.cli.run: a user's mistake gets a sentence, never a traceback."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

MISSING = "no-such-folder"

#: script -> arguments naming a data (or generator) folder that does not exist.
SCRIPTS = {
    "training.train_classifier": ["--task", "brain_mri_binary", "--data", MISSING, "--epochs", "1"],
    "training.evaluate": ["--task", "brain_mri_binary", "--data", MISSING],
    "training.cross_validate": ["--task", "brain_mri_binary", "--data", MISSING, "--folds", "2"],
    "training.compare": ["--task", "brain_mri_binary", "--data", MISSING, "--models", "small_cnn"],
    "training.train_gan": ["--task", "brain_mri_binary", "--class-id", "yes", "--data", MISSING],
    "training.generate": ["--task", "brain_mri_binary", "--out", "{tmp}/out", "--generators", MISSING],
    "training.gan_augment_experiment": ["--task", "brain_mri_binary", "--data", MISSING],
    "training.recalibrate": ["--task", "brain_mri_binary", "--model", "small_cnn_phantoms", "--data", MISSING],
    "training.audit_ood": ["--task", "brain_mri_binary", "--splits", f"{MISSING}/splits.csv"],
    "training.audit_explanations": ["--task", "brain_mri_binary", "--data", MISSING, "--dry-run"],
    "training.select_model": ["--task", "brain_mri_binary", "--runs", MISSING],
    "training.export": ["--task", "brain_mri_binary", "--models-dir", MISSING, "--out", "{tmp}/export"],
    "training.lesion_attention": ["--task", "breast_us", "--model", "mobilenet_bn_b16_real", "--data", MISSING],
}

#: Scripts without a data folder to get wrong (they still get the bad-flag test).
NO_DATA_FOLDER = {"training.export_feedback"}


def _scripts() -> list[str]:
    """Every module of training/ that has a command-line ``main``."""
    import training

    folder = Path(training.__file__).parent
    return sorted(f"training.{p.stem}" for p in folder.glob("*.py") if "\ndef main(" in p.read_text(encoding="utf-8"))


def test_every_training_script_is_covered_here():
    assert set(_scripts()) == set(SCRIPTS) | NO_DATA_FOLDER

#: Scripts that read the served models (their defaults are kept; they write nothing there on a mistake).
READS_SERVED_MODELS = {"training.evaluate", "training.recalibrate", "training.audit_ood", "training.audit_explanations",
                       "training.export", "training.lesion_attention"}


def _run(module: str, argv: list[str], capsys) -> tuple[int, str]:
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("module", _scripts())
def test_an_unknown_flag_is_answered_with_usage_and_a_sentence(module, capsys):
    code, err = _run(module, ["--no-such-flag", "1"], capsys)
    assert code == 2 and "unrecognized arguments: --no-such-flag" in err and "Traceback" not in err


@pytest.mark.parametrize("module", sorted(SCRIPTS))
def test_a_missing_data_folder_is_answered_with_a_sentence_naming_it(module, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in SCRIPTS[module]]
    for field, flag in (("runs_dir", "--runs-dir"), ("models_dir", "--models-dir"), ("out", "--out")):
        if field in _fields(module) and flag not in argv and module not in READS_SERVED_MODELS:  # keep the repo clean
            argv += [flag, str(tmp_path / field)]
    code, err = _run(module, argv, capsys)
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    assert MISSING in err, err


def _fields(module: str) -> set[str]:
    import dataclasses

    source = importlib.import_module(module)
    configs = [v for v in vars(source).values() if dataclasses.is_dataclass(v) and v.__name__.endswith("Config")]
    return {f.name for c in configs for f in dataclasses.fields(c)}
