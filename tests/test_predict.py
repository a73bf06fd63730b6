"""The batch command line: folders of scans -> one CSV row per file, overlays and reports, no names by default."""

from __future__ import annotations

import keras
import pandas as pd
import pytest

from core import paths
from core.predict import main
from tests.test_app import MRI, SCAN, install, natural_photo, phantom, png


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("models")
    install(root, MRI.id, "tiny", favourite=1, ood=True, default=True)
    return root


@pytest.fixture
def scans(tmp_path, models_root, monkeypatch):
    monkeypatch.setattr(paths, "MODELS_DIR", models_root)
    folder = tmp_path / "scans"
    (folder / "series 2").mkdir(parents=True)
    (folder / "DOE_JANE_1.png").write_bytes(png(phantom(SCAN)))
    (folder / "series 2" / "DOE_JANE_2.png").write_bytes(png(phantom(SCAN + 4)))
    (folder / "series 2" / "DOE_JANE_3.dcm").write_bytes(b"DICM but not really")
    (folder / "holiday.png").write_bytes(png(natural_photo()))
    return folder


def test_a_folder_gives_one_row_per_file_and_a_bad_file_never_stops_the_run(scans, tmp_path):
    out = tmp_path / "results.csv"
    code = main(["--task", MRI.id, "--csv", str(out), "--quiet", "--cam-dir", str(tmp_path / "cams"),
                 "--pdf-dir", str(tmp_path / "pdfs"), str(scans)])
    assert code == 0, "every file was processed, refusals and errors included"
    table = pd.read_csv(out)
    assert len(table) == 4
    assert sorted(table["status"]) == ["classified", "classified", "error", "out of distribution"]
    assert {f"P({n})" for n in MRI.class_names.values()} <= set(table.columns) and "prediction set" in table
    refused = table[table["status"] == "out of distribution"].iloc[0]
    assert "out-of-distribution check" in refused["message"]  # the reason
    assert len(list((tmp_path / "cams").iterdir())) == 2  # one overlay per classified image
    assert len(list((tmp_path / "pdfs").iterdir())) == 3  # one report per image that was read
    written = out.read_text() + " ".join(p.name for p in tmp_path.rglob("*") if "scans" not in p.parts)
    assert "DOE" not in written and "holiday" not in written  # no file names unless asked
    assert all(name.startswith("image ") for name in table["image"])


def test_keep_names_puts_the_paths_in_the_csv(scans, tmp_path, capsys):
    assert main(["--task", MRI.id, "--keep-names", "--quiet", str(scans / "DOE_JANE_1.png")]) == 0
    printed = capsys.readouterr().out
    assert "DOE_JANE_1.png" in printed and printed.splitlines()[0].startswith("image,status,")


@pytest.mark.parametrize("argv", [
    ["--task", MRI.id, "does/not/exist"],
    ["--task", MRI.id, "--cam-method", "nonsense", "."],
])
def test_usage_errors_exit_non_zero_with_a_sentence(argv, capsys, scans):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_an_unknown_task_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--task", "chest_xray", "."])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_a_task_without_a_model_says_so_and_exits_1(scans, capsys):
    assert main(["--task", "blood_smear", "--quiet", str(scans)]) == 1
    assert "error:" in capsys.readouterr().err
