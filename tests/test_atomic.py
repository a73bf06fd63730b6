"""Files the app, reports and datasets read appear whole or not at all."""

import pytest

from core.atomic import atomic_write


def test_an_interrupted_write_leaves_neither_a_half_file_nor_a_temp_file(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.txt"]
    with atomic_write(target, "w") as fh:
        fh.write("new")
    assert target.read_text() == "new" and oct(target.stat().st_mode & 0o777) == "0o644"
