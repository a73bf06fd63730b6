"""Metrics a reviewer reads: checked by hand on a small 3-class example, and against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from core.evaluation.metrics import (
    MetricsError,
    classification_report,
    expected_calibration_error,
    latency_summary,
    to_markdown,
)
from core.evaluation.plots import PlotError, plot_confusion_matrix, plot_history, plot_reliability, plot_roc

CLASSES = ["glioma", "meningioma", "notumor"]
# 9 images, 3 per class. Predicted: 0 0 0 | 1 1 0 | 2 1 2  -> confusion [[3,0,0],[1,2,0],[0,1,2]].
Y_TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
Y_PROB = np.array([
    [0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.5, 0.2, 0.3],
    [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.5, 0.4, 0.1],
    [0.1, 0.2, 0.7], [0.2, 0.5, 0.3], [0.3, 0.1, 0.6],
])


@pytest.fixture(scope="module")
def report():
    return classification_report(Y_TRUE, Y_PROB, CLASSES)


def test_accuracy_and_confusion_matrix_match_the_hand_count(report):
    assert report["accuracy"] == pytest.approx(7 / 9)
    assert report["confusion_matrix"] == [[3, 0, 0], [1, 2, 0], [0, 1, 2]]
    assert report["n"] == 9


def test_precision_recall_f1_per_class_match_the_hand_count(report):
    pc = report["per_class"]
    assert [pc[c]["precision"] for c in CLASSES] == pytest.approx([3 / 4, 2 / 3, 1.0])
    assert [pc[c]["recall"] for c in CLASSES] == pytest.approx([1.0, 2 / 3, 2 / 3])
    assert [pc[c]["sensitivity"] for c in CLASSES] == [pc[c]["recall"] for c in CLASSES]
    assert [pc[c]["f1"] for c in CLASSES] == pytest.approx([6 / 7, 2 / 3, 0.8])
    assert [pc[c]["support"] for c in CLASSES] == [3, 3, 3]


def test_specificity_is_true_negatives_over_all_negatives(report):
    # glioma: 6 negatives, 1 predicted glioma (a meningioma) -> 5/6; meningioma: 1 FP -> 5/6; notumor: 0 FP.
    assert [report["per_class"][c]["specificity"] for c in CLASSES] == pytest.approx([5 / 6, 5 / 6, 1.0])
    assert report["macro"]["specificity"] == pytest.approx((5 / 6 + 5 / 6 + 1) / 3)


def test_averages_roc_auc_and_log_loss_equal_scikit_learn(report):
    assert report["macro"]["f1"] == pytest.approx((6 / 7 + 2 / 3 + 0.8) / 3)
    assert report["weighted"]["precision"] == pytest.approx((3 / 4 + 2 / 3 + 1) / 3)
    assert report["macro"]["roc_auc"] == pytest.approx(roc_auc_score(Y_TRUE, Y_PROB, multi_class="ovr"))
    assert report["per_class"]["glioma"]["roc_auc"] == pytest.approx(roc_auc_score(Y_TRUE == 0, Y_PROB[:, 0]))
    assert report["log_loss"] == pytest.approx(-np.mean(np.log(Y_PROB[np.arange(9), Y_TRUE])))
    assert report["log_loss"] == pytest.approx(log_loss(Y_TRUE, Y_PROB))


def test_a_class_missing_from_the_test_set_gets_no_auc_and_a_note_instead_of_a_crash():
    keep = Y_TRUE != 2
    rep = classification_report(Y_TRUE[keep], Y_PROB[keep], CLASSES)
    assert rep["per_class"]["notumor"]["roc_auc"] is None
    assert any("notumor" in note for note in rep["notes"])
    defined = [rep["per_class"][c]["roc_auc"] for c in CLASSES[:2]]
    assert rep["macro"]["roc_auc"] == pytest.approx(np.mean(defined))


def test_binary_task_reports_one_auc_for_both_classes():
    y = np.array([0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.6, 0.4, 0.8, 0.9])
    rep = classification_report(y, np.c_[1 - p1, p1], ["no", "yes"])
    expected = roc_auc_score(y, p1)
    assert rep["per_class"]["yes"]["roc_auc"] == pytest.approx(expected)
    assert rep["per_class"]["no"]["roc_auc"] == pytest.approx(expected)
    assert rep["macro"]["roc_auc"] == pytest.approx(expected)


def test_logits_or_misshaped_input_get_a_clear_error():
    with pytest.raises(MetricsError, match="sum to 1"):
        classification_report(Y_TRUE, Y_PROB * 5, CLASSES)
    with pytest.raises(MetricsError, match=r"shape \(9, 4\)"):
        classification_report(Y_TRUE, Y_PROB, CLASSES + ["pituitary"])
    with pytest.raises(MetricsError, match="0..2"):
        classification_report(Y_TRUE + 1, Y_PROB, CLASSES)


def test_ece_is_zero_for_confident_correct_predictions_and_the_gap_otherwise():
    y = np.array([0, 1, 2, 1])
    assert expected_calibration_error(y, np.eye(3)[y]) == 0.0
    # Always 80 % sure, right half the time: off by 0.3.
    prob = np.array([[0.8, 0.1, 0.1]] * 4)
    assert expected_calibration_error(np.array([0, 0, 1, 2]), prob) == pytest.approx(0.3)


def test_latency_summary_in_milliseconds():
    assert latency_summary([0.03, 0.01, 0.02]) == pytest.approx(
        {"min_ms": 10.0, "mean_ms": 20.0, "median_ms": 20.0, "max_ms": 30.0, "n": 3})
    with pytest.raises(MetricsError):
        latency_summary([])


def test_markdown_table_lists_every_class_and_the_confusion_matrix(report):
    text = to_markdown(report, ["Glioma", "Meningioma", "No tumour"])
    for expected in ("| Glioma | 0.750 | 1.000 | 0.833 |", "macro avg", "| No tumour | 0 | 1 | 2 |", "0.778"):
        assert expected in text


def _is_png(path):
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_write_complete_png_files_and_nothing_else(tmp_path, report):
    history = {"accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6], "loss": [1.0, 0.6], "val_loss": [1.1, 0.8]}
    written = [
        plot_history(history, tmp_path / "history.png"),
        plot_confusion_matrix(report["confusion_matrix"], CLASSES, tmp_path / "cm.png"),
        plot_roc(Y_TRUE, Y_PROB, CLASSES, tmp_path / "roc.png"),
        plot_reliability(Y_TRUE, Y_PROB, np.full_like(Y_PROB, 1 / 3), tmp_path / "reliability.png"),
    ]
    assert all(_is_png(p) for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.png", "history.png", "reliability.png", "roc.png"]


def test_plots_refuse_data_they_cannot_draw(tmp_path):
    with pytest.raises(PlotError, match="no 'accuracy' or 'loss'"):
        plot_history({"lr": [0.1]}, tmp_path / "h.png")
    with pytest.raises(PlotError, match="3x3"):
        plot_confusion_matrix([[1, 2], [3, 4]], CLASSES, tmp_path / "cm.png")
    assert not list(tmp_path.iterdir())
