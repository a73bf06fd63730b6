"""On the real Diagnose page: the feedback controls sit beside the verdict and record what was shown."""

from __future__ import annotations

import pytest

from core import paths
from core.feedback import FeedbackStore, dispose_all, pixel_sha256
from tests.test_app import SCAN, app, models_dir, phantom, png, upload  # noqa: F401  (fixtures)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDIMG_DB_URL", raising=False)
    monkeypatch.setattr(paths, "FEEDBACK_DB", tmp_path / "feedback.sqlite3")
    yield FeedbackStore()
    dispose_all()


def test_an_uploaded_scan_can_be_agreed_with_and_the_answer_names_the_model_and_pixels(app, store):  # noqa: F811
    upload(app.run(), ("Doe_Jane.png", png(phantom(SCAN))))
    assert [b.label for b in app.button if b.label in ("Agree", "Correct it")] == ["Agree", "Correct it"]
    next(b for b in app.button if b.label == "Agree").click().run()
    assert not app.exception
    assert any(s.value.startswith("Saved (entry #1)") for s in app.success)
    [entry] = store.entries()
    card = paths.MODELS_DIR / "brain_mri_4class" / "tiny.card.json"
    assert entry["model_name"] == "tiny" and entry["model_sha256"] in card.read_text()
    assert entry["image_sha256"] == pixel_sha256(phantom(SCAN))
    assert entry["answer"] == "meningioma" and entry["agreed"] is True  # the tiny model says meningioma
    assert "Doe" not in str(entry)
