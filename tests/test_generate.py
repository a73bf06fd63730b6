"""Generating synthetic images: names, metadata and a marking core.io recognises; real files are never touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.io import is_synthetic, read_image
from core.serving.cards import sha256_file
from training.config import ConfigError

TASK = "brain_mri_binary"


@pytest.fixture(scope="module")
def generators(tmp_path_factory) -> Path:
    """A folder with an (untrained) 32 px generator per class and cards recording their sha256."""
    from core.models.dcgan import build_generator

    folder = tmp_path_factory.mktemp("gan")
    for class_id in ("no", "yes"):
        path = folder / f"{class_id}.keras"
        build_generator(32, 1).save(path)
        card = {"kind": "dcgan-generator", "sha256": sha256_file(path)}
        (folder / f"{class_id}.card.json").write_text(json.dumps(card))
    return folder


def _argv(generators: Path, out: Path, *extra: str) -> list[str]:
    return ["--task", TASK, "--generators", str(generators), "--out", str(out), *extra]


def test_every_image_is_named_and_marked_synthetic_and_core_io_says_so(generators, tmp_path):
    from core.data import read_dataset
    from training.generate import main

    result = main(_argv(generators, tmp_path / "syn", "--n", "3", "--seed", "7"))

    for class_id in ("no", "yes"):
        files = sorted((tmp_path / "syn" / class_id).iterdir())
        assert [f.name for f in files] == [f"syn_{class_id}_7_{i}.png" for i in range(3)]
        sha = sha256_file(generators / f"{class_id}.keras")
        assert result["classes"][class_id]["generator_sha256"] == sha
        for index, f in enumerate(files):
            loaded = read_image(f)
            assert loaded.synthetic and is_synthetic(f)
            assert loaded.synthetic_info == {"generator_sha256": sha, "seed": 7, "index": index}
            assert loaded.metadata["task"] == TASK and loaded.metadata["class"] == class_id
            assert loaded.pixels.shape == (32, 32, 3)
    # The output is a class-per-folder dataset the readers take as it is.
    table = read_dataset(tmp_path / "syn", TASK)
    assert sorted(table["label"].tolist()) == ["no"] * 3 + ["yes"] * 3


def test_the_same_seed_gives_the_same_images_and_another_seed_other_images(generators, tmp_path):
    from training.generate import main

    main(_argv(generators, tmp_path / "a", "--n", "2", "--seed", "1", "--classes", "yes"))
    main(_argv(generators, tmp_path / "b", "--n", "2", "--seed", "1", "--classes", "yes"))
    main(_argv(generators, tmp_path / "c", "--n", "2", "--seed", "2", "--classes", "yes"))

    def pixels(folder: str, seed: int) -> np.ndarray:
        return np.stack([read_image(tmp_path / folder / "yes" / f"syn_yes_{seed}_{i}.png").pixels for i in range(2)])

    assert np.array_equal(pixels("a", 1), pixels("b", 1))
    assert not np.array_equal(pixels("a", 1), pixels("c", 2))
    assert not (tmp_path / "a" / "no").exists()  # only the classes asked for


def test_an_existing_real_image_is_never_overwritten(generators, tmp_path, capsys):
    from training.generate import main

    real = tmp_path / "syn" / "yes" / "syn_yes_0_1.png"
    real.parent.mkdir(parents=True)
    Image.fromarray(np.full((32, 32), 200, np.uint8)).save(real)
    before = real.read_bytes()

    with pytest.raises(SystemExit):
        main(_argv(generators, tmp_path / "syn", "--n", "3", "--seed", "0", "--classes", "yes"))
    assert re.search("Refusing to overwrite .*not marked as a synthetic image", capsys.readouterr().err)

    assert real.read_bytes() == before
    assert sorted(p.name for p in real.parent.iterdir()) == ["syn_yes_0_1.png"]  # nothing half-done either


def test_generating_again_replaces_its_own_synthetic_images(generators, tmp_path):
    from training.generate import main

    args = _argv(generators, tmp_path / "syn", "--n", "2", "--seed", "0", "--classes", "no")
    main(args)
    first = (tmp_path / "syn" / "no" / "syn_no_0_0.png").read_bytes()
    main(args)
    assert (tmp_path / "syn" / "no" / "syn_no_0_0.png").read_bytes() == first


def test_a_generator_changed_after_its_card_was_written_is_refused(generators, tmp_path):
    from training.gan_config import GenerateConfig
    from training.generate import generate

    folder = tmp_path / "gan"
    folder.mkdir()
    (folder / "yes.keras").write_bytes((generators / "yes.keras").read_bytes() + b"tampered")
    (folder / "yes.card.json").write_text((generators / "yes.card.json").read_text())

    with pytest.raises(ConfigError, match="does not match the sha256 in its card"):
        generate(GenerateConfig(task=TASK, out=str(tmp_path / "syn"), n=1, generators=str(folder)))
    assert not (tmp_path / "syn").exists()


def test_a_class_without_a_generator_names_the_script_that_trains_it(generators, tmp_path, capsys):
    from training.generate import main

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit):
        main(_argv(empty, tmp_path / "syn", "--classes", "yes"))
    assert "training.train_gan" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(_argv(generators, tmp_path / "syn", "--classes", "glioma"))
    assert "not a class of task" in capsys.readouterr().err


def test_a_generator_without_its_card_is_refused(generators, tmp_path):
    from training.gan_config import GenerateConfig
    from training.generate import generate

    folder = tmp_path / "gan"
    folder.mkdir()
    (folder / "yes.keras").write_bytes((generators / "yes.keras").read_bytes())

    with pytest.raises(ConfigError, match="has no card"):
        generate(GenerateConfig(task=TASK, out=str(tmp_path / "syn"), n=1, generators=str(folder), classes=["yes"]))
    assert not (tmp_path / "syn").exists()
