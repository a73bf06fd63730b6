"""benchmarks/training.py: the three feeds take turns and the ratios are measured, not assumed."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")
from benchmarks import training as bench  # noqa: E402


def test_three_feeds_are_timed_round_by_round_and_compared_with_the_in_memory_ceiling(capsys):
    rows = bench.main(["--per-class", "12", "--size", "32", "--epochs", "3", "--batch-size", "8"])
    by_feed = {row["feed"]: row for row in rows}
    assert set(by_feed) == {"pipeline", "memory", "memory_aug"}
    assert all(row["img_per_s"] > 0 for row in rows)
    assert by_feed["memory"]["ratio"] == pytest.approx(1.0)
    assert by_feed["pipeline"]["ratio_q25"] <= by_feed["pipeline"]["ratio"] <= by_feed["pipeline"]["ratio_q75"]
    out = capsys.readouterr().out
    assert "| train_classifier (tf.data: cached, augmented on the fly) |" in out
    assert "input pipeline alone, process CPU per batch:" in out


def test_a_single_epoch_is_refused_because_the_first_round_is_dropped():
    with pytest.raises(SystemExit):
        bench.main(["--epochs", "1"])
