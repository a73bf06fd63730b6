"""The clinician-feedback store, against SQLite (always) and a real PostgreSQL (when CI started one).

``.ci/run`` starts a private PostgreSQL on loopback and exports ``MEDIMG_TEST_PG_URL``; without it the
``postgresql`` half of every test is skipped, saying so.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sqlite3
import threading
import time
import uuid

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, inspect, text

from core import paths
from core.feedback import FeedbackError, FeedbackStore, PredictionRecord, dispose_all, pixel_sha256, record_of
from core.feedback.engine import _normalise
from core.tasks import get_task

PG_URL = os.environ.get("MEDIMG_TEST_PG_URL")
TASK = get_task("brain_mri_4class")
SESSIONS = 16
WRITES_PER_SESSION = 10


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="MEDIMG_TEST_PG_URL is unset: no PostgreSQL to test against (.ci/run starts one)"))])
def db_url(request, tmp_path):
    """A fresh, empty feedback database: a new SQLite file, or a new schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(_normalise(PG_URL))
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
        dispose_all()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    dispose_all()


def verdict(predicted: str = "meningioma", model: str = "tiny", ood: bool = False, image: int = 0,
            task_id: str = TASK.id) -> PredictionRecord:
    """The record of a verdict on image number ``image``."""
    classes = get_task(task_id).classes
    probabilities = {c: (0.7 if c == predicted else 0.3 / (len(classes) - 1)) for c in classes}
    return PredictionRecord(task_id=task_id, model_name=model, model_sha256="ab" * 32,
                            image_sha256=f"{image:064x}", predicted_class=predicted,
                            status="out_of_distribution" if ood else "classified",
                            probabilities=probabilities, prediction_set=[predicted], ood=ood,
                            ood_score=1.5 if ood else 0.2)


def scan(seed: int = 0, size: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


# ---- what is stored ---------------------------------------------------------------------------------


def test_an_answer_is_stored_with_everything_the_issue_lists(db_url):
    store = FeedbackStore(db_url)
    entry_id = store.add(verdict(), "agree", comment="  clear extra-axial mass ", initials="JD")
    [row] = store.entries()
    assert row["id"] == entry_id and row["task_id"] == TASK.id and row["model_name"] == "tiny"
    assert row["model_sha256"] == "ab" * 32 and row["image_sha256"] == f"{0:064x}"
    assert row["predicted_class"] == "meningioma" and row["status"] == "classified"
    assert row["probabilities"]["meningioma"] == pytest.approx(0.7) and row["prediction_set"] == ["meningioma"]
    assert row["ood"] is False and row["ood_score"] == pytest.approx(0.2)
    assert row["answer"] == "meningioma" and row["agreed"] is True
    assert row["comment"] == "clear extra-axial mass" and row["initials"] == "JD"
    assert row["created_at"].tzinfo is not None and abs(time.time() - row["created_at"].timestamp()) < 60
    assert row["kept_image"] is False


def test_a_dicom_upload_leaves_no_patient_identifier_or_file_name_in_the_database(db_url, tmp_path):
    from core.io import read_image
    from tests._imagefiles import dicom_bytes

    pixels = (np.arange(48 * 48).reshape(48, 48) % 4096).astype(np.uint16)
    data = dicom_bytes(pixels, PatientName="Doe^Jane", PatientID="PID-12345", InstitutionName="St Elsewhere")
    stream = io.BytesIO(data)
    stream.name = "Doe_Jane_brain.dcm"
    image = read_image(stream)

    class Shown:  # what serving returns, reduced to the fields record_of reads
        probabilities = {c: 0.25 for c in TASK.classes}
        top_class, uncertain, out_of_distribution, ood_score = "glioma", True, False, None

    card = {"task_id": TASK.id, "name": "tiny", "sha256": "cd" * 32}
    store = FeedbackStore(db_url)
    store.add(record_of(card, Shown(), image.pixels), "glioma", pixels=image.pixels)
    stored = "".join(str(v) for row in store.entries() for v in row.values())
    stored += "".join(png.decode("latin-1") for _, png in store.kept_images(TASK.id))
    for identifier in ("Doe", "PID-12345", "Elsewhere", "brain.dcm"):
        assert identifier not in stored
    if db_url.startswith("sqlite"):  # the file itself, WAL included, holds none of them either
        store.engine.dispose()
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("feedback.sqlite3*"))
        assert b"Doe" not in raw and b"PID-12345" not in raw and b"Elsewhere" not in raw


def test_a_kept_image_comes_back_pixel_for_pixel_and_only_when_asked(db_url):
    store = FeedbackStore(db_url)
    pixels = scan(3)
    store.add(verdict(image=1), "glioma", pixels=pixels)
    store.add(verdict(image=2), "glioma")  # not ticked: no pixels stored
    [(row, png)] = list(store.kept_images(TASK.id))
    back = np.asarray(Image.open(io.BytesIO(png)))
    assert np.array_equal(back, pixels) and pixel_sha256(back) == pixel_sha256(pixels)
    assert not Image.open(io.BytesIO(png)).info, "no text or metadata chunks in the PNG"
    assert [r["kept_image"] for r in store.entries()] == [False, True]


@pytest.mark.parametrize("answer, stored, agreed", [
    ("agree", "meningioma", True), ("meningioma", "meningioma", True), ("glioma", "glioma", False),
    ("not_this_modality", "not_this_modality", False), ("poor_image_quality", "poor_image_quality", False),
])
def test_each_kind_of_answer_is_stored_as_what_the_clinician_meant(db_url, answer, stored, agreed):
    store = FeedbackStore(db_url)
    store.add(verdict("meningioma"), answer)
    [row] = store.entries()
    assert (row["answer"], row["agreed"]) == (stored, agreed)


def test_agreeing_with_a_refusal_means_not_this_modality(db_url):
    store = FeedbackStore(db_url)
    store.add(verdict("glioma", ood=True), "agree")
    store.add(verdict("glioma", ood=True, image=1), "glioma")  # the clinician says it was an MRI after all
    rows = {r["image_sha256"][-1]: r for r in store.entries()}
    assert (rows["0"]["answer"], rows["0"]["agreed"]) == ("not_this_modality", True)
    assert (rows["1"]["answer"], rows["1"]["agreed"]) == ("glioma", False)


def test_an_answer_that_is_not_offered_or_too_long_is_refused_with_a_sentence(db_url):
    store = FeedbackStore(db_url)
    with pytest.raises(FeedbackError, match="not an answer for this task"):
        store.add(verdict(), "pituitary adenoma")
    with pytest.raises(FeedbackError, match="Initials are at most"):
        store.add(verdict(), "agree", initials="Dr John Smith")
    assert store.count() == 0


# ---- review: filter, rates, delete ----------------------------------------------------------------


def test_entries_filter_by_task_model_and_agreement(db_url):
    store = FeedbackStore(db_url)
    store.add(verdict(model="a"), "agree")
    store.add(verdict(model="a", image=1), "glioma")
    store.add(verdict(model="b", image=2), "agree")
    store.add(verdict("yes", model="c", task_id="brain_mri_binary"), "no")
    assert len(store.entries()) == 4
    assert {r["model_name"] for r in store.entries(task_id=TASK.id)} == {"a", "b"}
    assert [r["image_sha256"][-1] for r in store.entries(model_name="a")] == ["1", "0"]  # newest first
    assert {r["model_name"] for r in store.entries(agreed=False)} == {"a", "c"}
    assert len(store.entries(task_id=TASK.id, model_name="a", agreed=True)) == 1


def test_agreement_rates_are_per_model_and_per_class_the_model_answered(db_url):
    store = FeedbackStore(db_url)
    for i, answer in enumerate(["agree", "agree", "agree", "glioma"]):
        store.add(verdict("meningioma", model="a", image=i), answer)
    store.add(verdict("glioma", model="a", image=9), "pituitary")
    store.add(verdict("meningioma", model="b", image=9), "agree")
    rates = {(r["model_name"], r["model_answer"]): (r["answers"], r["agreed"], r["rate"])
             for r in store.agreement_rates(TASK.id)}
    assert rates == {("a", "glioma"): (1, 0, 0.0), ("a", "meningioma"): (4, 3, 0.75), ("b", "meningioma"): (1, 1, 1.0)}


def test_deleting_an_entry_removes_it_and_its_kept_image(db_url):
    store = FeedbackStore(db_url)
    first = store.add(verdict(), "agree", pixels=scan())
    second = store.add(verdict(image=1), "agree", pixels=scan(1))
    assert store.delete(first) is True
    assert [r["id"] for r in store.entries()] == [second]
    assert [row["id"] for row, _ in store.kept_images(TASK.id)] == [second]
    assert store.delete(first) is False


# ---- the database itself --------------------------------------------------------------------------


def test_the_schema_is_made_by_the_migrations_and_matches_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.feedback.schema import Base

    store = FeedbackStore(db_url)
    store.count()  # first use creates and migrates
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == "0001"
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert {"feedback", "feedback_images", "alembic_version"} <= set(inspect(conn).get_table_names())


def test_the_default_database_is_a_sqlite_file_in_wal_mode_created_on_first_use(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDIMG_DB_URL", raising=False)
    monkeypatch.setattr(paths, "FEEDBACK_DB", tmp_path / "new" / "feedback.sqlite3")
    store = FeedbackStore()
    assert not (tmp_path / "new").exists(), "nothing is created before the first answer"
    store.add(verdict(), "agree")
    assert (tmp_path / "new" / "feedback.sqlite3").is_file()
    with sqlite3.connect(tmp_path / "new" / "feedback.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    dispose_all()


def test_an_unreachable_database_is_a_sentence_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for url in (f"sqlite:///{blocker / 'feedback.sqlite3'}", "postgresql://nobody:x@127.0.0.1:9/none"):
        with pytest.raises(FeedbackError, match="could not be saved.*verdict above is unchanged"):
            FeedbackStore(url).add(verdict(), "agree")


# ---- concurrency ------------------------------------------------------------------------------------


def _write_session(url: str, session: int, results: list) -> None:
    store = FeedbackStore(url)
    for i in range(WRITES_PER_SESSION):
        results.append(store.add(verdict(image=session * 1000 + i), "agree" if i % 2 else "glioma",
                                 comment=f"session {session}", pixels=scan(i, 16) if i % 3 == 0 else None))


def test_sixteen_sessions_writing_at_once_lose_nothing(db_url):
    FeedbackStore(db_url).count()  # migrated once, as the app does at its first answer
    ids: list[int] = []
    threads = [threading.Thread(target=_write_session, args=(db_url, s, ids)) for s in range(SESSIONS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    total = SESSIONS * WRITES_PER_SESSION
    store = FeedbackStore(db_url)
    assert len(ids) == len(set(ids)) == total and store.count() == total
    assert {r["comment"] for r in store.entries()} == {f"session {s}" for s in range(SESSIONS)}
    print(f"\n{db_url.split(':')[0]}: {total} writes from {SESSIONS} threads in {elapsed:.2f} s "
          f"= {total / elapsed:.0f} writes/s, lost 0")
    if db_url.startswith("sqlite"):
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def _process_main(url: str, first_session: int) -> None:
    dispose_all()  # a forked child never shares its parent's connections
    threads = [threading.Thread(target=_write_session, args=(url, s, [])) for s in
               range(first_session, first_session + SESSIONS // 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_processes_on_one_fresh_database_lose_nothing_and_migrate_once(db_url):
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as two app servers would be
    workers = [context.Process(target=_process_main, args=(db_url, p * SESSIONS // 2)) for p in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=240)
    assert [w.exitcode for w in workers] == [0, 0]
    store = FeedbackStore(db_url)
    assert store.count() == SESSIONS * WRITES_PER_SESSION
    assert len({r["image_sha256"] for r in store.entries()}) == SESSIONS * WRITES_PER_SESSION
    if db_url.startswith("sqlite"):
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
