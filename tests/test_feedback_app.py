"""The feedback controls beside a verdict and the Feedback page, driven headlessly with AppTest."""

from __future__ import annotations

import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from core import paths
from core.feedback import FeedbackStore, PredictionRecord, dispose_all

TIMEOUT = 30


def verdict_and_controls():
    """A verdict (stand-in for the Diagnose page's) followed by the feedback controls, as a script."""
    from types import SimpleNamespace

    import numpy as np
    import streamlit as st

    from widgets.feedback import feedback_controls

    st.markdown("VERDICT: Meningioma (71 %)")
    prediction = SimpleNamespace(
        probabilities={"glioma": 0.1, "meningioma": 0.71, "notumor": 0.1, "pituitary": 0.09},
        top_class="meningioma", uncertain=False, out_of_distribution=False, ood_score=0.3,
        prediction_set=["meningioma", "glioma"])
    card = {"task_id": "brain_mri_4class", "name": "tiny", "sha256": "ab" * 32}
    pixels = np.full((32, 32, 3), 90, np.uint8)
    feedback_controls(("ab" * 32, "scan-1"), card, prediction, pixels)


@pytest.fixture
def db(tmp_path, monkeypatch):
    """The app's default feedback database, moved to a fresh file."""
    monkeypatch.delenv("MEDIMG_DB_URL", raising=False)
    monkeypatch.setattr(paths, "FEEDBACK_DB", tmp_path / "feedback.sqlite3")
    yield FeedbackStore()
    dispose_all()


@pytest.fixture
def controls(db):
    return AppTest.from_function(verdict_and_controls, default_timeout=TIMEOUT).run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_nothing_is_written_until_the_clinician_answers(controls, db, tmp_path):
    assert not controls.exception
    assert [b.label for b in controls.button] == ["Agree", "Correct it"]
    assert not (tmp_path / "feedback.sqlite3").exists()


def test_agree_is_one_click_and_shows_a_saved_state_beside_the_verdict(controls, db):
    button(controls, "Agree").click().run()
    assert not controls.exception
    assert any(s.startswith("Saved (entry #1). You agreed: Meningioma") for s in [x.value for x in controls.success])
    assert "VERDICT: Meningioma (71 %)" in [m.value for m in controls.markdown]
    [entry] = db.entries()
    assert entry["agreed"] is True and entry["answer"] == "meningioma" and entry["kept_image"] is False
    assert entry["prediction_set"] == ["meningioma", "glioma"]


def test_a_correction_with_comment_initials_and_kept_image_is_stored(controls, db):
    labelled(controls.selectbox, "Correct it to").set_value("glioma")
    labelled(controls.text_input, "Comment (optional)").input("irregular rim")
    labelled(controls.text_input, "Initials (optional)").input("AB")
    labelled(controls.checkbox, "Keep the image for retraining").check()
    button(controls, "Correct it").click().run()
    assert any("Corrected to: Glioma. Image kept for retraining." in s.value for s in controls.success)
    [entry] = db.entries()
    assert (entry["answer"], entry["agreed"], entry["comment"], entry["initials"], entry["kept_image"]) == (
        "glioma", False, "irregular rim", "AB", True)


def test_correct_it_without_a_choice_asks_for_one_and_saves_nothing(controls, db):
    button(controls, "Correct it").click().run()
    assert any("Choose the right answer" in w.value for w in controls.warning)
    assert db.count() == 0


def test_undo_removes_the_answer_and_offers_the_controls_again(controls, db):
    button(controls, "Agree").click().run()
    button(controls, "Undo").click().run()
    assert db.count() == 0 and [b.label for b in controls.button] == ["Agree", "Correct it"]


def test_a_failed_write_is_a_sentence_and_the_verdict_stays(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.delenv("MEDIMG_DB_URL", raising=False)
    monkeypatch.setattr(paths, "FEEDBACK_DB", blocker / "feedback.sqlite3")
    at = AppTest.from_function(verdict_and_controls, default_timeout=TIMEOUT).run()
    button(at, "Agree").click().run()
    assert not at.exception
    assert any("could not be saved" in e.value and "verdict above is unchanged" in e.value for e in at.error)
    assert "VERDICT: Meningioma (71 %)" in [m.value for m in at.markdown]
    assert [b.label for b in at.button] == ["Agree", "Correct it"]  # the clinician can try again


def labelled(elements, label: str):
    return next(e for e in elements if e.label == label)


# ---- the Feedback page ----------------------------------------------------------------------------


def record(model: str, predicted: str, image: int) -> PredictionRecord:
    return PredictionRecord("brain_mri_4class", model, "cd" * 32, f"{image:064x}", predicted, "classified",
                            {predicted: 0.8}, None)


@pytest.fixture
def page(db):
    db.add(record("alpha", "glioma", 1), "agree", comment="typical", initials="JD")
    db.add(record("alpha", "glioma", 2), "meningioma")
    db.add(record("beta", "notumor", 3), "poor_image_quality")
    at = AppTest.from_file(str(paths.REPO_ROOT / "views" / "feedback.py"), default_timeout=TIMEOUT)
    at.session_state["task_id"] = "brain_mri_4class"
    return at.run()


def test_the_page_lists_answers_and_agreement_per_model_and_class(page):
    assert not page.exception and page.title[0].value == "Feedback"
    rates = page.dataframe[0].value
    assert list(rates["Model said"]) == ["Glioma", "No tumour"]
    assert list(rates["Agreement"]) == ["50 %", "0 %"] and list(rates["Answers"]) == [2, 1]
    entries = page.dataframe[1].value
    assert list(entries["#"]) == [3, 2, 1] and list(entries["Clinician"])[0] == "Poor image quality"


def test_the_page_filters_by_model_and_agreement(page):
    page.selectbox(key="fb_filter_model").set_value("alpha").run()
    assert list(page.dataframe[1].value["#"]) == [2, 1]
    page.selectbox(key="fb_filter_agreed").set_value(True).run()
    assert list(page.dataframe[1].value["#"]) == [1]


def test_an_entry_can_be_deleted_from_the_page(page, db):
    page.selectbox(key="fb_delete_id").set_value(2).run()
    page.button(key="fb_delete").click().run()
    assert not page.exception
    assert [e["id"] for e in db.entries()] == [3, 1]
    assert any("Entry #2" in s.value for s in page.success)
    assert list(page.dataframe[1].value["#"]) == [3, 1]


def test_the_page_and_the_controls_never_import_tensorflow(tmp_path):
    script = (
        "import sys\n"
        "sys.modules['tensorflow'] = None; sys.modules['keras'] = None  # any import of them now fails\n"
        "from streamlit.testing.v1 import AppTest\n"
        "import widgets.feedback, training.export_feedback\n"
        f"at = AppTest.from_file({str(paths.REPO_ROOT / 'views' / 'feedback.py')!r})\n"
        "at.session_state['task_id'] = 'brain_mri_4class'\n"
        "at.run(timeout=60)\n"
        "assert not at.exception, at.exception\n"
    )
    env = {"MEDIMG_FEEDBACK_DB": str(tmp_path / "f.sqlite3"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], cwd=paths.REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
